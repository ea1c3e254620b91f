"""The loaded configuration: typed, immutable; reloading builds a new value.

``config.toml`` is read with the stdlib ``tomllib`` (fast; tomlkit is for editing) and parsed
once here: the model and its provider, policies, ``[mcp_servers]`` (:attr:`Config.mcp_servers`),
``[features]`` and the ``mcp_oauth_*`` settings. The few keys no layer types yet stay reachable
through ``raw``.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rootstep.config.features import Features
from rootstep.config.home import codex_home
from rootstep.config.mcp_oauth import OAuthSettings, oauth_settings
from rootstep.config.mcp_servers import McpServersConfig, parse_mcp_servers
from rootstep.config.model_provider import ModelProviderInfo, parse_providers
from rootstep.config.overrides import apply_overrides

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-5.1-codex"
DEFAULT_PROVIDER = "openai"
DEFAULT_APPROVAL = "on-request"
DEFAULT_SANDBOX = "read-only"


class ConfigError(ValueError):
    """config.toml could not be parsed, or a key has the wrong type."""


@dataclass(frozen=True)
class Config:
    home: Path
    model: str = DEFAULT_MODEL
    model_provider_id: str = DEFAULT_PROVIDER
    providers: dict[str, ModelProviderInfo] = field(default_factory=dict)
    approval_policy: Any = DEFAULT_APPROVAL
    sandbox_mode: str = DEFAULT_SANDBOX
    base_instructions: str | None = None
    developer_instructions: str | None = None
    mcp_servers: McpServersConfig = field(default_factory=McpServersConfig)
    features: Features = field(default_factory=Features)
    mcp_oauth: OAuthSettings | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def oauth(self) -> OAuthSettings:
        """The ``mcp_oauth_*`` settings (defaults when the config was built without them)."""
        return self.mcp_oauth if self.mcp_oauth is not None else OAuthSettings(codex_home=self.home)

    @property
    def provider(self) -> ModelProviderInfo:
        return self.providers[self.model_provider_id]

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def archived_sessions_dir(self) -> Path:
        return self.home / "archived_sessions"

    def with_overrides(self, overrides: dict[str, Any] | Iterable[str]) -> Config:
        """A new config with extra dotted overrides (e.g. ``thread/start.config``)."""
        if not overrides:
            return self
        return from_document(self.home, apply_overrides(self.raw, overrides))

    def evolve(self, **changes: Any) -> Config:
        if "home" in changes and "mcp_oauth" not in changes and self.mcp_oauth is not None:
            changes["mcp_oauth"] = replace(self.mcp_oauth, codex_home=changes["home"])
        return replace(self, **changes)


def read_document(home: Path) -> dict[str, Any]:
    path = home / "config.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        merged = merge_repeated_tables(text)
        if merged != text:
            try:
                return tomllib.loads(merged)
            except tomllib.TOMLDecodeError:
                pass
        raise ConfigError(f"{path}: {exc}") from None


_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]\s*(#.*)?$")


def merge_repeated_tables(text: str) -> str:
    """Fold a repeated ``[table]`` header into its first occurrence.

    Codex's test writers append e.g. a second ``[features]`` table to a file that already has
    an empty one; strict TOML rejects that, Codex accepts it, so do we.
    """
    sections: dict[str | None, list[str]] = {None: []}
    order: list[str | None] = [None]
    current: str | None = None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            current = match.group(1).replace(" ", "")
            if current not in sections:
                sections[current] = [line]
                order.append(current)
            continue
        sections[current].append(line)
    return "\n".join(line for name in order for line in sections[name]) + "\n"


def from_document(home: Path, doc: dict[str, Any]) -> Config:
    providers, warnings = parse_providers(doc.get("model_providers"))
    provider_id = doc.get("model_provider", DEFAULT_PROVIDER)
    if not isinstance(provider_id, str) or provider_id not in providers:
        raise ConfigError(f"model provider `{provider_id}` not found")
    model = doc.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise ConfigError("`model` must be a string")
    sandbox = doc.get("sandbox_mode", DEFAULT_SANDBOX)
    if sandbox not in ("read-only", "workspace-write", "danger-full-access"):
        raise ConfigError(f"invalid sandbox_mode {sandbox!r}")
    approval = doc.get("approval_policy", DEFAULT_APPROVAL)
    if isinstance(approval, str) and approval not in ("untrusted", "on-request", "on-failure", "never"):
        raise ConfigError(f"invalid approval_policy {approval!r}")
    return Config(
        home=home,
        model=model,
        model_provider_id=provider_id,
        providers=providers,
        approval_policy=approval,
        sandbox_mode=sandbox,
        base_instructions=doc.get("base_instructions") if isinstance(doc.get("base_instructions"), str) else None,
        developer_instructions=doc.get("developer_instructions")
        if isinstance(doc.get("developer_instructions"), str)
        else None,
        mcp_servers=parse_mcp_servers(doc),
        features=Features.from_table(doc.get("features")),
        mcp_oauth=oauth_settings(home, doc),
        raw=doc,
        warnings=tuple(warnings),
    )


def load_config(home: Path | None = None, overrides: Iterable[str] | dict[str, Any] = ()) -> Config:
    """Read ``home/config.toml`` (missing file = defaults) and apply ``-c`` overrides."""
    home = codex_home() if home is None else home
    doc = read_document(home)
    return from_document(home, apply_overrides(doc, overrides))
