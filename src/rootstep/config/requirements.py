"""``requirements.toml`` — managed allow-lists for MCP servers (spec §3.6, §5.5).

An administrator pins which servers may run by *identity*: the stdio command (optionally with
argument matchers) or the HTTP URL. Plugin servers are keyed by the plugin id, which for a
selected capability root is the root's ``id`` (never the manifest name). A server that is not
allowed is not dropped: it stays visible as disabled, with the requirement source as the reason.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rootstep.config.mcp_servers import HttpTransport, McpServerConfig, StdioTransport

SYSTEM_REQUIREMENTS_PATH = Path("/etc/codex/requirements.toml")
MANAGED_CONFIG_ENV = "CODEX_APP_SERVER_MANAGED_CONFIG_PATH"


class RequirementsError(ValueError):
    """The file is not TOML, or a requirement is malformed (message names server and source)."""


@dataclass(frozen=True)
class ValueMatcher:
    """``{match = "exact"|"prefix", value}`` or ``{match = "regex", expression}`` (full match)."""

    kind: Literal["exact", "prefix", "regex"]
    value: str

    def matches(self, candidate: str) -> bool:
        if self.kind == "exact":
            return candidate == self.value
        if self.kind == "prefix":
            return candidate.startswith(self.value)
        return re.fullmatch(self.value, candidate) is not None


@dataclass(frozen=True)
class McpServerRequirement:
    """One allowed identity. Exactly one of the four forms is set."""

    command: str | None = None  # exact stdio command
    url: str | None = None  # exact HTTP url
    executable: str | None = None  # matcher form: exact executable + one matcher per arg
    args: tuple[ValueMatcher, ...] = ()
    url_matcher: ValueMatcher | None = None

    def matches(self, server: McpServerConfig) -> bool:
        transport = server.transport
        if isinstance(transport, StdioTransport):
            if self.command is not None:
                return transport.command == self.command
            if self.executable is not None:
                return (
                    transport.command == self.executable
                    and len(transport.args) == len(self.args)
                    and all(m.matches(a) for m, a in zip(self.args, transport.args, strict=True))
                )
            return False
        assert isinstance(transport, HttpTransport)
        if self.url is not None:
            return transport.url == self.url
        if self.url_matcher is not None:
            return self.url_matcher.matches(transport.url)
        return False


@dataclass(frozen=True)
class Requirements:
    """The managed requirements relevant to MCP. ``None`` tables mean "no policy"."""

    mcp_servers: Mapping[str, McpServerRequirement] | None = None
    plugins: Mapping[str, Mapping[str, McpServerRequirement] | None] | None = None
    source: str = "<unspecified>"

    @property
    def disabled_reason(self) -> str:
        return f"requirements ({self.source})"

    def _gate(
        self, servers: Mapping[str, McpServerConfig], allow: Mapping[str, McpServerRequirement] | None
    ) -> dict[str, McpServerConfig]:
        out: dict[str, McpServerConfig] = {}
        for name, server in servers.items():
            requirement = (allow or {}).get(name)
            if requirement is not None and requirement.matches(server):
                out[name] = server.model_copy(update={"disabled_reason": None}) if server.disabled_reason else server
            else:
                out[name] = server.model_copy(update={"enabled": False, "disabled_reason": self.disabled_reason})
        return out

    def apply_to_config_servers(self, servers: Mapping[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        """config.toml servers: with an ``[mcp_servers]`` allow-list, unlisted/mismatched → disabled."""
        if self.mcp_servers is None:
            return dict(servers)
        return self._gate(servers, self.mcp_servers)

    def apply_to_plugin_servers(
        self, plugin_id: str, servers: Mapping[str, McpServerConfig]
    ) -> dict[str, McpServerConfig]:
        """Plugin servers (spec §5.5): gated by ``[plugins."<id>".mcp_servers]`` when a plugins table
        exists at all; an *empty* top-level ``[mcp_servers]`` allow-list disables every one."""
        out = dict(servers)
        if self.plugins is not None:
            out = self._gate(out, self.plugins.get(plugin_id))
        if self.mcp_servers is not None and not self.mcp_servers:
            out = self._gate(out, {})
        return out


# ----------------------------------------------------------------------------- parsing


def _matcher(raw: Any, where: str) -> ValueMatcher:
    if not isinstance(raw, dict):
        raise RequirementsError(f"{where}: expected a matcher table")
    kind = raw.get("match")
    allowed = {"exact": "value", "prefix": "value", "regex": "expression"}
    if kind not in allowed:
        raise RequirementsError(f"{where}: unknown match kind `{kind}`")
    key = allowed[kind]
    extra = set(raw) - {"match", key}
    if extra or not isinstance(raw.get(key), str):
        raise RequirementsError(f"{where}: a `{kind}` matcher takes exactly `{key}` (a string)")
    if kind == "regex":
        try:
            re.compile(raw[key])
        except re.error as err:
            raise RequirementsError(f"{where}: invalid regex `{raw[key]}`: {err}") from err
    return ValueMatcher(kind, raw[key])


def _requirement(raw: Any, where: str) -> McpServerRequirement:
    identity = raw.get("identity") if isinstance(raw, dict) else None
    if not isinstance(identity, dict):
        raise RequirementsError(f"{where}: missing `identity` table")
    command, url = identity.get("command"), identity.get("url")
    if command is None and url is None:
        raise RequirementsError(f"{where}: identity must set exactly one of `command` or `url`")
    if isinstance(command, str):
        return McpServerRequirement(command=command)
    if isinstance(url, str):
        return McpServerRequirement(url=url)
    if isinstance(command, dict):
        if (
            set(command) != {"executable", "args"}
            or not isinstance(command["executable"], str)
            or not isinstance(command["args"], list)
        ):
            raise RequirementsError(f"{where}: command matcher needs `executable` (string) and `args` (array)")
        args = tuple(
            _matcher(a, f"{where}: invalid argument matcher at index {i}") for i, a in enumerate(command["args"])
        )
        return McpServerRequirement(executable=command["executable"], args=args)
    return McpServerRequirement(url_matcher=_matcher(url, where))


def _server_table(raw: Any, where: str) -> dict[str, McpServerRequirement]:
    if not isinstance(raw, dict):
        raise RequirementsError(f"{where}: expected a table")
    return {name: _requirement(value, f"MCP server `{name}` {where}") for name, value in raw.items()}


def parse_requirements(text: str, source: str = "<unspecified>") -> Requirements:
    """Parse ``requirements.toml`` text. Keys unrelated to MCP are ignored."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RequirementsError(f"{source}: {err}") from err
    mcp_servers = None
    if "mcp_servers" in doc:
        mcp_servers = _server_table(doc["mcp_servers"], f"in {source}")
    plugins: dict[str, dict[str, McpServerRequirement] | None] | None = None
    if "plugins" in doc:
        if not isinstance(doc["plugins"], dict):
            raise RequirementsError(f"{source}: `plugins` must be a table")
        plugins = {}
        for plugin_id, table in doc["plugins"].items():
            servers = table.get("mcp_servers") if isinstance(table, dict) else None
            plugins[plugin_id] = (
                None if servers is None else _server_table(servers, f"of plugin `{plugin_id}` in {source}")
            )
    return Requirements(mcp_servers=mcp_servers, plugins=plugins, source=source)


def requirements_path(environ: Mapping[str, str] | None = None) -> Path:
    """The sibling of the managed config when ``CODEX_APP_SERVER_MANAGED_CONFIG_PATH`` is set."""
    environ = os.environ if environ is None else environ
    managed = environ.get(MANAGED_CONFIG_ENV)
    return Path(managed).with_name("requirements.toml") if managed else SYSTEM_REQUIREMENTS_PATH


def load_requirements(path: Path | None = None) -> Requirements:
    """Read the requirements file; an absent file means no policy."""
    path = path or requirements_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Requirements()
    return parse_requirements(text, source=str(path))


EMPTY_REQUIREMENTS = Requirements()
__all__ = [
    "EMPTY_REQUIREMENTS",
    "McpServerRequirement",
    "Requirements",
    "RequirementsError",
    "ValueMatcher",
    "load_requirements",
    "parse_requirements",
    "requirements_path",
]
