"""``[mcp_servers.<name>]``: the MCP servers a configuration declares.

One server's configuration (:class:`McpServerConfig`) has the same shape in config.toml and in
the per-server objects of a plugin's ``.mcp.json``. Parsing is strict about the transport (stdio
by ``command``, streamable HTTP by ``url``) and lenient about unknown keys, like the reference.
A bad server never takes the others down: :func:`parse_mcp_servers` reports it (name → reason)
and skips it, the way the reference reports an invalid server as a failed startup while the
thread works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_STARTUP_TIMEOUT_SEC = 30.0
DEFAULT_TOOL_TIMEOUT_SEC = 300.0
SERVER_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")

ApprovalMode = Literal["auto", "prompt", "writes", "approve"]

_STDIO_ONLY = ("command", "args", "env", "env_vars", "cwd")
_HTTP_ONLY = (
    "url",
    "bearer_token_env_var",
    "http_headers",
    "env_http_headers",
    "oauth",
    "oauth_resource",
    "scopes",
    "auth",
)


class EnvVar(BaseModel):
    """An environment variable forwarded to a stdio server, read from ``source``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    source: Literal["local", "remote"] | None = None


class OAuthConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    client_id: str | None = None


class ToolApproval(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    approval_mode: ApprovalMode | None = None


class StdioTransport(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["stdio"] = "stdio"
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_vars: tuple[EnvVar, ...] = ()
    cwd: str | None = None


class HttpTransport(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["streamable_http"] = "streamable_http"
    url: str
    bearer_token_env_var: str | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    env_http_headers: tuple[tuple[str, str], ...] = ()
    oauth: OAuthConfig | None = None
    oauth_resource: str | None = None
    scopes: tuple[str, ...] | None = None
    auth: Literal["oauth", "chatgpt"] = "oauth"


class McpServerConfig(BaseModel):
    """A resolved, immutable, hashable server configuration.

    Equality is structural, so "same server" decisions (runtime reuse, rebuild only what
    changed) compare values, never identities.
    """

    model_config = ConfigDict(frozen=True)

    transport: StdioTransport | HttpTransport = Field(discriminator="type")
    environment_id: str = "local"
    enabled: bool = True
    required: bool = False
    supports_parallel_tool_calls: bool = False
    startup_timeout_sec: float = DEFAULT_STARTUP_TIMEOUT_SEC
    tool_timeout_sec: float = DEFAULT_TOOL_TIMEOUT_SEC
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] | None = None
    default_tools_approval_mode: ApprovalMode | None = None
    tools: tuple[tuple[str, ToolApproval], ...] = ()
    # Why a server is disabled by policy (e.g. managed requirements), shown in status.
    disabled_reason: str | None = None
    # Beyond the reference: one process for every thread holding this identical server (same
    # config, environment and principal); see rootstep.mcp.shared_servers.
    shareable: bool = False

    @property
    def is_stdio(self) -> bool:
        return isinstance(self.transport, StdioTransport)

    def tool_allowed(self, tool: str) -> bool:
        """enabled_tools is an allow-list, then disabled_tools a deny-list, of raw tool names."""
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return not (self.disabled_tools is not None and tool in self.disabled_tools)

    @classmethod
    def from_toml(cls, raw: Any) -> McpServerConfig:
        """Parse the snake_case table of config.toml / ``.mcp.json``. Raises ValueError."""
        return cls.model_validate(_RawServer.model_validate(raw if isinstance(raw, dict) else {}).to_config())


def _pairs(mapping: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((mapping or {}).items()))


class _RawServer(BaseModel):
    """The on-disk form, validated before it becomes a McpServerConfig."""

    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    env_vars: list[str | EnvVar] | None = None
    cwd: str | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    bearer_token: Any = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    oauth: OAuthConfig | None = None
    oauth_resource: str | None = None
    scopes: list[str] | None = None
    auth: Literal["oauth", "chatgpt"] | None = None
    environment_id: str | None = None
    enabled: bool = True
    required: bool = False
    supports_parallel_tool_calls: bool = False
    startup_timeout_sec: float | None = None
    startup_timeout_ms: int | None = None
    tool_timeout_sec: float | None = None
    enabled_tools: list[str] | None = None
    disabled_tools: list[str] | None = None
    default_tools_approval_mode: ApprovalMode | None = None
    tools: dict[str, ToolApproval] | None = None
    shareable: bool = False

    @field_validator("env_vars", mode="before")
    @classmethod
    def _env_var_sources(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and item.get("source") not in (None, "local", "remote"):
                    raise ValueError(f"env_vars entry `{item.get('name')}` has invalid source `{item.get('source')}`")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> _RawServer:
        if self.bearer_token is not None:
            raise ValueError("bearer_token is not supported; use bearer_token_env_var")
        foreign: tuple[str, ...]
        if self.command is not None:
            kind, foreign = "stdio", _HTTP_ONLY
        elif self.url is not None:
            kind, foreign = "streamable_http", _STDIO_ONLY
        else:
            raise ValueError("invalid transport: set `command` (stdio) or `url` (streamable HTTP)")
        for key in foreign:
            if getattr(self, key) is not None:
                raise ValueError(f"{key} is not supported for {kind}")
        return self

    def to_config(self) -> dict[str, Any]:
        if self.command is not None:
            transport: dict[str, Any] = {
                "type": "stdio",
                "command": self.command,
                "args": tuple(self.args or ()),
                "env": _pairs(self.env),
                "env_vars": tuple(v if isinstance(v, EnvVar) else EnvVar(name=v) for v in self.env_vars or ()),
                "cwd": self.cwd,
            }
        else:
            transport = {
                "type": "streamable_http",
                "url": self.url,
                "bearer_token_env_var": self.bearer_token_env_var,
                "http_headers": _pairs(self.http_headers),
                "env_http_headers": _pairs(self.env_http_headers),
                "oauth": self.oauth,
                "oauth_resource": self.oauth_resource,
                "scopes": tuple(self.scopes) if self.scopes is not None else None,
                "auth": self.auth or "oauth",
            }
        startup = DEFAULT_STARTUP_TIMEOUT_SEC
        if self.startup_timeout_sec is not None:
            startup = self.startup_timeout_sec
        elif self.startup_timeout_ms is not None:
            startup = self.startup_timeout_ms / 1000
        return {
            "transport": transport,
            "environment_id": self.environment_id or "local",
            "enabled": self.enabled,
            "required": self.required,
            "supports_parallel_tool_calls": self.supports_parallel_tool_calls,
            "startup_timeout_sec": startup,
            "tool_timeout_sec": (
                self.tool_timeout_sec if self.tool_timeout_sec is not None else DEFAULT_TOOL_TIMEOUT_SEC
            ),
            "enabled_tools": tuple(self.enabled_tools) if self.enabled_tools is not None else None,
            "disabled_tools": tuple(self.disabled_tools) if self.disabled_tools is not None else None,
            "default_tools_approval_mode": self.default_tools_approval_mode,
            "tools": tuple(sorted((self.tools or {}).items())),
            "shareable": self.shareable,
        }


@dataclass(frozen=True)
class McpServersConfig:
    """Parsed servers (in config order) and the reasons the others were rejected."""

    servers: dict[str, McpServerConfig] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def required(self) -> list[str]:
        """Names of the enabled ``required = true`` servers, sorted."""
        return sorted(n for n, c in self.servers.items() if c.enabled and c.required)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return str(exc)


def parse_mcp_servers(config: Mapping[str, Any] | None) -> McpServersConfig:
    """Parse ``config["mcp_servers"]`` (the whole config.toml mapping is accepted)."""
    table = (config or {}).get("mcp_servers")
    if table is None:
        return McpServersConfig()
    if not isinstance(table, Mapping):
        return McpServersConfig(errors={"mcp_servers": "`mcp_servers` must be a table"})
    servers: dict[str, McpServerConfig] = {}
    errors: dict[str, str] = {}
    for name in table:
        raw = table[name]
        if not SERVER_NAME_RE.match(name):
            errors[name] = f"invalid server name '{name}': must match pattern ^[a-zA-Z0-9_-]+$"
            continue
        if not isinstance(raw, Mapping):
            errors[name] = f"mcp_servers.{name} must be a table"
            continue
        try:
            servers[name] = McpServerConfig.from_toml(dict(raw))
        except (ValidationError, ValueError) as exc:
            errors[name] = f"invalid config for MCP server `{name}`: {_reason(exc)}"
    return McpServersConfig(servers=servers, errors=errors)
