"""``[mcp_servers.*]`` of a config mapping → servers, with per-server errors.

A bad server never takes the others down: it is reported (name → reason) and skipped, the
way the reference reports an invalid server as a failed startup while the thread works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rootstep.mcp.server_config import SERVER_NAME_RE, McpServerConfig


@dataclass(frozen=True)
class McpServersConfig:
    """Parsed servers (in config order) and the reasons the others were rejected."""

    servers: dict[str, McpServerConfig] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


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
