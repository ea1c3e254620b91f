"""Rebuild only what changed: one thread's MCP connections, shared by its runtime snapshots.

This pool is the one reuse mechanism: whether a server keeps its client and process is decided
here, by config equality and environment generation, whatever the projection did.

The reference builds a new connection manager (and so new processes) for every server whenever
the projection changes. Here each running server has its own single-server
:class:`~rootstep.mcp.manager.ConnectionManager`, leased by every runtime snapshot whose
resolved config for that name is equal (and whose environment link is the same generation).
A new snapshot leases its servers *before* the old one is retired, so an unchanged server keeps
its client and its process; only added or changed servers start, and a server stops when the
last snapshot using it is closed.

:class:`PooledManager` is what an :class:`~rootstep.mcp.runtime.McpRuntime` holds: it answers
the :class:`ConnectionManager` methods the runtime, the step tools and the status listing use,
by delegating to the leased per-server managers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.connection import McpConnection
from rootstep.mcp.manager import ConnectionManager, StatusCallback
from rootstep.mcp.shared_servers import Lease, SharedServers, share_key
from rootstep.mcp.startup import ServerGone, StartupStatus
from rootstep.mcp.transports.factory import TransportFactory

if TYPE_CHECKING:
    from rootstep.mcp.manager import Owner

log = logging.getLogger(__name__)

Generation = Callable[[str], int]


@dataclass
class _Entry:
    name: str
    config: McpServerConfig
    generation: int
    manager: ConnectionManager
    users: int = 0
    lease: Lease | None = None  # a shareable server's hold on the process-wide one


@dataclass
class ServerPool:
    """Per-thread pool of running servers, keyed by name, reused while the config is equal."""

    transports: TransportFactory
    on_status: StatusCallback | None = None
    generation: Generation = field(default=lambda env_id: 0)
    starts: int = 0  # servers started over the pool's life (observability, bench)
    # The app-server's registry: servers declared ``shareable`` are leased from it (one process
    # for every thread holding the identical server) instead of started per thread.
    shared: SharedServers | None = None
    # Where the servers' supervisors run (the app-server's task group); None: each manager is
    # owned by the pool's own ``async with``.
    owner: Owner | None = None
    _current: dict[str, _Entry] = field(default_factory=dict)
    _closed: bool = False
    _own: Any = None  # the task group ``async with`` opened when no owner was given

    async def __aenter__(self) -> ServerPool:
        """A pool that owns its servers' supervisors itself (without an app-server)."""
        if self.owner is None:
            self._own = anyio.create_task_group()
            await self._own.__aenter__()
            self.owner = self._own
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
        if self._own is not None:
            own, self._own = self._own, None
            await own.__aexit__(None, None, None)

    def _reusable(self, entry: _Entry | None, config: McpServerConfig) -> bool:
        return (
            entry is not None
            and entry.config == config
            and entry.generation == self.generation(config.environment_id)
            and not entry.manager.closed
        )

    async def lease(self, name: str, config: McpServerConfig) -> _Entry:
        """The running server for ``(name, config)``, started now if none matches."""
        if self._closed:
            raise ServerGone("the thread's MCP servers are closed")
        entry = self._current.get(name)
        if not self._reusable(entry, config) and config.shareable and self.shared is not None:
            generation = self.generation(config.environment_id)
            key = share_key(name, config, generation, self.transports)
            lease = await self.shared.lease(key, self.transports, self.on_status)
            entry = _Entry(name, config, generation, lease.manager, lease=lease)
            self._current[name] = entry
        elif not self._reusable(entry, config):
            manager = ConnectionManager(
                {name: config}, transports=self.transports, on_status=self.on_status, owner=self.owner
            )
            try:
                await manager.start()
            except BaseException:  # cancelled or failed half-way: nothing is left running
                with anyio.CancelScope(shield=True):
                    await manager.aclose()
                raise
            entry = _Entry(name, config, self.generation(config.environment_id), manager)
            self._current[name] = entry  # a replaced entry lives on until its last user goes
            self.starts += 1
        assert entry is not None
        entry.users += 1
        return entry

    async def release(self, entry: _Entry) -> None:
        entry.users = max(0, entry.users - 1)
        if entry.users == 0:
            if self._current.get(entry.name) is entry:
                del self._current[entry.name]
            await self._close(entry)

    async def _close(self, entry: _Entry) -> None:
        if entry.lease is not None:
            await entry.lease.release()  # the process stops with its last lessee
        else:
            await entry.manager.aclose()

    async def build(self, servers: Mapping[str, McpServerConfig]) -> PooledManager:
        """A manager view over ``servers`` (enabled ones leased, in config order)."""
        manager = PooledManager(self, servers)
        try:
            for name, config in servers.items():
                if config.enabled:
                    manager._entries[name] = await self.lease(name, config)
        except BaseException:
            await manager.aclose()
            raise
        return manager

    def forget_failed(self, name: str) -> bool:
        """A server that failed to start (e.g. before an OAuth login) is started afresh by the
        next snapshot that uses it; True when there was such a server."""
        entry = self._current.get(name)
        connection = entry.manager.connection(name) if entry is not None else None
        if entry is None or connection is None or connection.state != "failed":
            return False
        if entry.lease is not None and self.shared is not None:
            self.shared.forget(entry.lease.key)
        del self._current[name]  # its current users keep it until they release it
        return True

    def forget(self, name: str) -> bool:
        """After an OAuth login: the next snapshot starts ``name`` afresh whatever its state — a
        session opened under the old credentials may be bound to them (the SDK's servers answer
        404 to another credential). True when there was such a server."""
        entry = self._current.pop(name, None)  # current users keep it until released
        if entry is not None and entry.lease is not None and self.shared is not None:
            self.shared.forget(entry.lease.key)
        return entry is not None

    def running(self) -> dict[str, McpServerConfig]:
        return {name: e.config for name, e in self._current.items()}

    async def aclose(self) -> None:
        self._closed = True
        for entry in list(self._current.values()):
            await self._close(entry)
        self._current.clear()


class PooledManager:
    """The :class:`ConnectionManager` surface over leased single-server managers."""

    def __init__(self, pool: ServerPool, servers: Mapping[str, McpServerConfig]) -> None:
        self.pool = pool
        self.servers = dict(servers)
        self._entries: dict[str, _Entry] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:  # leased at build time
        return None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await self.pool.release(entry)

    async def _emit(self, status: StartupStatus) -> None:
        callback = self.pool.on_status
        if callback is not None:
            result = callback(status)
            if hasattr(result, "__await__"):
                await result  # type: ignore[misc]

    def _manager(self, name: str) -> ConnectionManager:
        entry = self._entries.get(name)
        if entry is None:
            raise ServerGone(f"unknown MCP server '{name}'")
        return entry.manager

    def connection(self, name: str) -> McpConnection | None:
        entry = self._entries.get(name)
        return entry.manager.connection(name) if entry is not None else None

    def connections(self) -> dict[str, McpConnection]:
        out: dict[str, McpConnection] = {}
        for name, entry in self._entries.items():
            connection = entry.manager.connection(name)
            if connection is not None:
                out[name] = connection
        return out

    async def wait_ready(self, names: list[str] | None = None) -> dict[str, McpConnection]:
        for name, entry in list(self._entries.items()):
            if names is None or name in names:
                await entry.manager.wait_ready()
        return {n: c for n, c in self.connections().items() if names is None or n in names}

    async def ensure(self, name: str) -> McpConnection:
        return await self._manager(name).ensure(name)

    async def call_tool(
        self, server: str, tool: str, arguments: dict[str, Any] | None, **kw: Any
    ) -> types.CallToolResult:
        if server not in self.servers:
            raise ServerGone(f"unknown MCP server '{server}'")
        entry = self._entries.get(server)
        if entry is not None and entry.lease is not None:
            router = getattr(self.pool.transports, "elicitation", None)
            result: types.CallToolResult = await entry.lease.call_tool(server, tool, arguments, router=router, **kw)
            return result
        return await self._manager(server).call_tool(server, tool, arguments, **kw)

    async def list_resources(self, server: str) -> tuple[list[types.Resource], list[types.ResourceTemplate]]:
        return await self._manager(server).list_resources(server)

    async def read_resource(self, server: str, uri: str, **kw: Any) -> types.ReadResourceResult:
        """``resources/read`` on the leased manager that runs ``server`` (shared or not)."""
        if server not in self.servers:
            raise ServerGone(f"unknown MCP server '{server}'")
        return await self._manager(server).read_resource(server, uri, **kw)

    def pids(self) -> dict[str, Any]:
        """Which manager object serves each name (tests compare identity across snapshots)."""
        return {name: id(entry.manager) for name, entry in self._entries.items()}
