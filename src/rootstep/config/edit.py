"""Edits of ``config.toml`` from the app-server (``config/value/write``, ``config/batchWrite``).

Edits go through tomlkit, so comments, ordering and formatting of everything else stay; the file
is rewritten as every ``config.toml`` writer does (:mod:`rootstep.config.writer`: under the
writers' lock, atomically, at most 0600). A layer's *version* is what codex 0.169 reports:
``sha256:`` + the SHA-256 of the layer's content as compact JSON with sorted keys, so a client
can send it back as ``expectedVersion`` to detect a concurrent edit.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from rootstep.config.writer import write_private, writers_lock
from rootstep.jsonrpc.serde_words import unexpected


class ConfigEditError(ValueError):
    """An edit that cannot be applied; the message is the client's to read."""


VERSION_CONFLICT = "Configuration was modified since last read. Fetch latest version and retry."

# Keys whose value must be a string (the reference rejects anything else with serde's text).
_STRING_KEYS = frozenset({
    "model", "review_model", "model_provider", "approval_policy", "sandbox_mode", "model_reasoning_effort",
    "model_reasoning_summary", "model_verbosity", "service_tier", "instructions", "developer_instructions",
    "compact_prompt", "chatgpt_base_url", "profile", "file_opener", "cli_auth_credentials_store",
})


def layer_version(config: Any) -> str:
    """The version of one layer's content. Pure."""
    text = json.dumps(config, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_plain(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"Invalid configuration: {exc}") from None


def check_types(doc: dict[str, Any]) -> None:
    for key in _STRING_KEYS:
        if key in doc and not isinstance(doc[key], str):
            raise ConfigEditError(
                f"Invalid configuration: invalid type: {unexpected(doc[key])}, expected a string\nin `{key}`\n"
            )


@dataclass(frozen=True)
class Edit:
    key_path: str
    value: Any
    merge_strategy: str = "replace"

    def path(self) -> list[str]:
        parts = [p.strip() for p in self.key_path.split(".")]
        if not self.key_path or any(not p for p in parts):
            raise ConfigEditError(f"Invalid key path: `{self.key_path}`")
        return parts


def _to_toml(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.table()
        for k, v in value.items():
            if v is not None:
                table[k] = _to_toml(v)
        return table
    return value


def _merge(container: Any, key: str, value: Any) -> None:
    """Upsert: tables merge key by key, anything else replaces."""
    existing = container.get(key)
    if isinstance(value, dict) and isinstance(existing, dict):
        for k, v in value.items():
            if v is None:
                existing.pop(k, None)
            else:
                _merge(existing, k, v)
        return
    container[key] = _to_toml(value)


def apply_edit(doc: tomlkit.TOMLDocument, edit: Edit) -> None:
    """Apply one edit to a tomlkit document in place (``None`` removes the key)."""
    *parents, leaf = edit.path()
    node: Any = doc
    for part in parents:
        child = node.get(part)
        if child is None:
            if edit.value is None:
                return
            child = tomlkit.table()
            node[part] = child
        elif not isinstance(child, dict):
            raise ConfigEditError(f"Invalid key path: `{edit.key_path}` (`{part}` is not a table)")
        node = child
    if edit.value is None:
        node.pop(leaf, None)
    elif edit.merge_strategy == "upsert":
        _merge(node, leaf, edit.value)
    else:
        node[leaf] = _to_toml(edit.value)


def edit_config_file(path: Path, edits: list[Edit], expected_version: str | None = None) -> str:
    """Apply ``edits`` to the file at ``path`` (all or nothing); returns the new version. Blocks
    (a lock another process may hold): async callers run it in a worker thread."""
    with writers_lock(path):
        return _edit_locked(path, edits, expected_version)


def _edit_locked(path: Path, edits: list[Edit], expected_version: str | None) -> str:
    if expected_version is not None and expected_version != layer_version(read_plain(path)):
        raise ConfigEditError(VERSION_CONFLICT)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # noqa: BLE001 - tomlkit raises several kinds
        raise ConfigEditError(f"Invalid configuration: {exc}") from None
    for edit in edits:
        apply_edit(doc, edit)
    out = tomlkit.dumps(doc)
    try:
        result = tomllib.loads(out)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"Invalid configuration: {exc}") from None
    check_types(result)
    write_private(path, out)
    return layer_version(result)
