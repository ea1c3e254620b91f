"""``McpRuntime``: an immutable snapshot (server configs + connection manager) that steps capture.

A step takes the runtime that is current when it starts, computes its tool catalog once from
it and executes the model's calls through the same snapshot; a newer runtime (reload,
projection change) never disturbs it. The runtime counts its users: once it is retired
(replaced) and its last user releases it, its manager is closed and its children reaped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types

from rootstep.mcp.connection import StartupStatus, startup_failure_text
from rootstep.mcp.elicitation import ElicitationRouter
from rootstep.mcp.manager import ConnectionManager, StatusCallback
from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.tools import ToolInfo, namespace_tools, normalize_tools_for_model, tool_is_model_visible
from rootstep.mcp.transports.factory import TransportFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerProvenance:
    """Which plugin contributed a server (spec §6.6); empty for config.toml servers."""

    plugin_id: str | None = None
    display_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListedServer:
    """What a ready server told us at startup."""

    tools: tuple[types.Tool, ...]
    instructions: str | None = None


@dataclass(frozen=True)
class ToolCatalog:
    """The model-visible tools of one step and the way back to (server, raw tool)."""

    tools: tuple[ToolInfo, ...] = ()
    _index: dict[tuple[str, str], ToolInfo] = field(default_factory=dict, compare=False)

    def route(self, namespace: str | None, name: str) -> ToolInfo | None:
        if namespace is None:
            return None
        return self._index.get((namespace, name))

    def model_tools(self) -> list[dict[str, Any]]:
        return namespace_tools(self.tools)

    def find(self, server: str, raw_tool: str) -> ToolInfo | None:
        for info in self.tools:
            if info.server == server and info.tool.name == raw_tool:
                return info
        return None


def build_catalog(
    listed: Mapping[str, ListedServer],
    provenance: Mapping[str, ServerProvenance] | None = None,
    *,
    prefix: bool = True,
) -> ToolCatalog:
    """Pure: listed tools of ready servers → normalized, routable catalog (spec §6.1–6.2)."""
    provenance = provenance or {}
    infos = []
    for server in sorted(listed):
        entry = listed[server]
        origin = provenance.get(server, ServerProvenance())
        description = (entry.instructions or "").strip() or None
        for tool in entry.tools:
            if not tool_is_model_visible(tool):
                continue
            infos.append(
                ToolInfo(
                    server=server,
                    tool=tool,
                    callable_namespace=server,
                    callable_name=tool.name,
                    namespace_description=description,
                    plugin_id=origin.plugin_id,
                    plugin_display_names=origin.display_names,
                )
            )
    tools = tuple(normalize_tools_for_model(infos, prefix=prefix))
    return ToolCatalog(tools=tools, _index={t.model_name: t for t in tools})


class McpRuntime:
    """Config map + manager; start with :meth:`start`, share with :meth:`acquire`."""

    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        manager: ConnectionManager,
        *,
        provenance: Mapping[str, ServerProvenance] | None = None,
        config_errors: Mapping[str, str] | None = None,
        prefix_tool_names: bool = True,
    ) -> None:
        self.servers: Mapping[str, McpServerConfig] = dict(servers)
        self.manager = manager
        self.provenance: Mapping[str, ServerProvenance] = dict(provenance or {})
        self.config_errors: Mapping[str, str] = dict(config_errors or {})
        self.prefix_tool_names = prefix_tool_names
        self._users = 0
        self._retired = False
        self._closed = False

    @classmethod
    async def start(
        cls,
        servers: Mapping[str, McpServerConfig],
        *,
        transports: TransportFactory,
        on_status: StatusCallback | None = None,
        provenance: Mapping[str, ServerProvenance] | None = None,
        config_errors: Mapping[str, str] | None = None,
        prefix_tool_names: bool = True,
        elicitation: ElicitationRouter | None = None,
    ) -> McpRuntime:
        """Start every enabled server concurrently; returns before they are ready."""
        manager = ConnectionManager(servers, transports=transports, on_status=on_status, elicitation=elicitation)
        runtime = cls(
            servers, manager, provenance=provenance, config_errors=config_errors, prefix_tool_names=prefix_tool_names
        )
        await manager.start()
        for name, reason in sorted(runtime.config_errors.items()):
            await manager._emit(StartupStatus(name, "starting"))
            await manager._emit(StartupStatus(name, "failed", startup_failure_text(name, reason)))
        return runtime

    # --- sharing ------------------------------------------------------------------------

    def acquire(self) -> McpRuntime:
        if self._closed:
            raise RuntimeError("the MCP runtime is closed")
        self._users += 1
        return self

    async def release(self) -> None:
        self._users = max(0, self._users - 1)
        if self._retired and self._users == 0:
            await self.aclose()

    async def retire(self) -> None:
        """A newer runtime replaced this one: close once the last user is done."""
        self._retired = True
        if self._users == 0:
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self.manager.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- reading ------------------------------------------------------------------------

    async def wait_ready(self) -> None:
        await self.manager.wait_ready()

    def listed(self) -> dict[str, ListedServer]:
        """Ready servers' tools (already filtered by enabled/disabled tools)."""
        out = {}
        for name, connection in self.manager.connections().items():
            if connection.state == "ready":
                out[name] = ListedServer(tools=connection.tools, instructions=connection.instructions)
        return out

    async def restart_crashed(self) -> None:
        """Servers that exited since they were ready are started again (a step's first use)."""
        crashed = [n for n, c in self.manager.connections().items() if c.crashed or c.lost]
        if not crashed:
            return

        async def restart(name: str) -> None:
            try:
                await self.manager.ensure(name)
            except Exception as exc:  # noqa: BLE001 - it stays failed; the step goes on without it
                log.info("MCP server %s did not come back: %s", name, exc)

        async with anyio.create_task_group() as tg:
            for name in crashed:
                tg.start_soon(restart, name)

    async def tools_settled(self) -> None:
        """Wait for ``tools/list_changed`` refreshes in flight: a step boundary applies them."""
        for connection in self.manager.connections().values():
            settled = getattr(connection, "tools_settled", None)
            if settled is not None:
                await settled()

    async def catalog(self) -> ToolCatalog:
        """Wait for startup to settle (restarting crashed servers), then the model-visible
        catalog of the ready servers."""
        await self.wait_ready()
        await self.restart_crashed()
        await self.tools_settled()
        return build_catalog(self.listed(), self.provenance, prefix=self.prefix_tool_names)

    def required_failures(self) -> dict[str, str]:
        """Required servers that failed to start (thread start fails on these)."""
        out = {}
        for name, config in self.servers.items():
            connection = self.manager.connection(name)
            if config.enabled and config.required and connection is not None and connection.state == "failed":
                out[name] = connection.error or "failed to start"
        return out
