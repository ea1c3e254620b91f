"""``-c key=value`` overrides: a dotted key and a TOML value (bare words fall back to strings)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any


class OverrideError(ValueError):
    pass


def parse_value(text: str) -> Any:
    """Parse ``text`` as a TOML value; if that fails it is taken as a plain string (like Codex)."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(f"invalid override {item!r}: expected key=value")
    parts = [p.strip().strip('"') for p in key.split(".")]
    if any(not p for p in parts):
        raise OverrideError(f"invalid override key {key!r}")
    return parts, parse_value(value)


def set_dotted(doc: dict[str, Any], path: list[str], value: Any) -> None:
    node = doc
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def merge_dotted(doc: dict[str, Any], path: list[str], value: Any) -> None:
    """``set_dotted``, except that a table merges into the table already there (so
    ``{"mcp_servers": {"echo": {"enabled": false}}}`` turns one key of ``echo`` off and keeps
    the rest of its config.toml entry, as codex 0.169 does)."""
    if isinstance(value, dict):
        node = doc
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        for key, inner in value.items():
            merge_dotted(node, [key], inner)
        return
    set_dotted(doc, path, value)


def apply_overrides(doc: dict[str, Any], overrides: Iterable[str] | dict[str, Any]) -> dict[str, Any]:
    """A new document with the overrides applied (CLI strings or a ``{dotted: value}`` map;
    in a map, table values merge into the tables they name)."""
    out = copy.deepcopy(doc)
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            merge_dotted(out, [p.strip() for p in key.split(".")], value)
        return out
    for item in overrides:
        path, value = parse_override(item)
        set_dotted(out, path, value)
    return out
