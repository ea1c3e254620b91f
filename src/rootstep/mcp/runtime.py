"""``McpRuntime``: an immutable snapshot (server configs + connection manager) that steps capture.

A step takes the runtime that is current when it starts, computes its tool catalog once from
it and executes the model's calls through the same snapshot; a newer runtime (reload,
projection change) never disturbs it. The runtime counts its users: once it is retired
(replaced) and its last user releases it, its manager is closed and its children reaped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.catalog import ListedServer, ServerProvenance, ToolCatalog, build_catalog
from rootstep.mcp.manager import ConnectionManager

log = logging.getLogger(__name__)


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
