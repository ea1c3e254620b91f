"""``ConnectionManager``: every enabled server of one runtime, started concurrently.

The manager owns a supervisor task whose anyio task group holds one owner task per
connection (:class:`McpConnection`). Startup status events (``starting`` per enabled server,
then ``ready``/``failed``) go to a callback. A server that crashed after it was ready is
restarted on its next use. :meth:`aclose` closes every connection and waits until every
transport is closed and every child reaped.

A manager outlives the step that built it (runtimes are snapshots shared by steps), so its
supervisor runs in its *owner*'s task group — the app-server's, for the servers of threads — and
``aclose`` is the only way it ends. ``async with ConnectionManager(...)`` owns it itself.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.connection import McpConnection
from rootstep.mcp.elicitation import ElicitationRouter
from rootstep.mcp.startup import ServerGone, StartupStatus, describe_error
from rootstep.mcp.transports.factory import TransportFactory

log = logging.getLogger(__name__)

StatusCallback = Callable[[StartupStatus], Awaitable[None] | None]


class Owner(Protocol):
    """Where a manager's supervisor runs: a task group (anyio's ``start``)."""

    async def start(self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: Any = None) -> Any: ...


class ToolCallTimeout(TimeoutError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"request timed out after {seconds:g} seconds")
        self.seconds = seconds


class ConnectionManager:
    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        *,
        transports: TransportFactory,
        on_status: StatusCallback | None = None,
        elicitation: ElicitationRouter | None = None,
        owner: Owner | None = None,
    ) -> None:
        self.servers = dict(servers)
        self._owner: Owner | None = owner
        self._own_group: TaskGroup | None = None
        self._transports = transports
        # The thread's router (shared with the managers that replace this one); a transports
        # factory may carry it too, so managers built by other layers forward elicitations.
        self.elicitation = elicitation if elicitation is not None else getattr(transports, "elicitation", None)
        self._on_status = on_status
        self._connections: dict[str, McpConnection] = {}
        self._restart_locks: dict[str, anyio.Lock] = {}
        self._group: TaskGroup | None = None
        self._running = False
        self._stop = anyio.Event()
        self._finished = anyio.Event()
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start every enabled server (returns at once; see :meth:`wait_ready`)."""
        if self._running:
            return
        if self._owner is None:
            raise RuntimeError("a ConnectionManager needs an owner task group (owner=, or `async with`)")
        await self._owner.start(self._supervise)
        self._running = True
        for name, config in self.servers.items():  # config order, like the reference
            if config.enabled:
                await self._spawn(name, config)

    async def __aenter__(self) -> ConnectionManager:
        if self._owner is None:
            group = anyio.create_task_group()
            self._own_group, self._owner = group, group
            await self._own_group.__aenter__()
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
        if self._own_group is not None:
            await self._own_group.__aexit__(None, None, None)

    async def _supervise(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                task_status.started()
                await self._stop.wait()
                for connection in self._connections.values():
                    connection.close()
        finally:
            self._group = None
            self._finished.set()

    async def aclose(self) -> None:
        """Close every connection; returns when every transport is closed and child reaped."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._running:
            with anyio.CancelScope(shield=True):
                await self._finished.wait()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- connections --------------------------------------------------------------------

    async def _spawn(self, name: str, config: McpServerConfig) -> McpConnection:
        if self._group is None or self._closed:
            raise ServerGone("the MCP runtime is closed")
        connection = McpConnection(
            name, config, self._transports, on_settled=self._report, elicitation=self.elicitation
        )
        self._connections[name] = connection
        await self._emit(StartupStatus(name, "starting"))
        self._group.start_soon(connection.run)
        return connection

    async def _report(self, connection: McpConnection) -> None:
        await self._emit(StartupStatus(connection.name, connection.state, connection.error,
                                       connection.failure_reason if connection.state == "failed" else None))

    async def _emit(self, status: StartupStatus) -> None:
        if self._on_status is None:
            return
        try:
            result = self._on_status(status)
            if inspect.isawaitable(result):
                await result
        except Exception:  # noqa: BLE001 - a broken listener must not break the runtime
            log.exception("startup status callback failed")

    def connection(self, name: str) -> McpConnection | None:
        return self._connections.get(name)

    def connections(self) -> dict[str, McpConnection]:
        return dict(self._connections)

    async def wait_ready(self, names: list[str] | None = None) -> dict[str, McpConnection]:
        """Wait until the given (default: all) started servers are ready, failed or cancelled."""
        selected = {n: c for n, c in self._connections.items() if names is None or n in names}
        for connection in selected.values():
            await connection.settled.wait()
        return selected

    async def ensure(self, name: str) -> McpConnection:
        """The ready connection for ``name``, restarting it if it crashed since it was ready."""
        connection = self._connections.get(name)
        if connection is None:
            raise ServerGone(f"unknown MCP server '{name}'")
        if not connection.settled.is_set():  # (a set Event still costs a loop turn to wait on)
            await connection.settled.wait()
        if connection.usable:
            return connection
        if (connection.crashed or connection.lost) and not self._closed:
            lock = self._restart_locks.setdefault(name, anyio.Lock())
            async with lock:
                current = self._connections[name]
                if current is connection:
                    await connection.finished.wait()
                    log.info("restarting MCP server %s after it exited", name)
                    current = await self._spawn(name, self.servers[name])
                await current.settled.wait()
                if current.state == "ready" and current.session is not None and not current.lost:
                    return current
                connection = current
        raise ServerGone(connection.error or f"MCP server '{name}' is not connected")

    # --- requests -----------------------------------------------------------------------

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any] | None,
        *,
        meta: dict[str, Any] | None = None,
        timeout: float | None = None,
        progress: ProgressFnT | None = None,
    ) -> types.CallToolResult:
        """``tools/call`` on ``server`` within ``timeout`` (default: the server's tool_timeout_sec).

        Raises ServerGone, ToolCallTimeout, or the SDK's errors (MCPError for JSON-RPC errors
        and a closed connection, ValidationError for a malformed result).
        """
        config = self.servers.get(server)
        if config is None:
            raise ServerGone(f"unknown MCP server '{server}'")
        seconds = config.tool_timeout_sec if timeout is None else timeout
        connection = self._connections.get(server)
        if connection is not None and connection.usable:
            # The hot path: a ready server. The SDK's own request clock bounds the call (and
            # sends the courtesy cancel when it runs out); no extra cancel scope per call.
            assert connection.session is not None
            try:
                return await connection.session.call_tool(
                    tool, arguments, seconds, progress, meta=meta  # type: ignore[arg-type]
                )
            except MCPError as exc:
                if exc.error.code == types.REQUEST_TIMEOUT:
                    raise ToolCallTimeout(seconds) from None
                raise
        try:
            with anyio.fail_after(seconds):
                connection = await self.ensure(server)
                assert connection.session is not None
                return await connection.session.call_tool(
                    tool, arguments, meta=meta, progress_callback=progress  # type: ignore[arg-type]
                )
        except TimeoutError:
            raise ToolCallTimeout(seconds) from None

    async def read_resource(
        self, server: str, uri: str, *, meta: dict[str, Any] | None = None, timeout: float | None = None
    ) -> types.ReadResourceResult:
        """``resources/read`` of ``uri`` on ``server`` within ``timeout`` (default: the server's
        tool_timeout_sec, as the reference bounds every request to a server).

        Raises ServerGone (unknown, failed or gone server), ToolCallTimeout, or the SDK's
        MCPError (the server's JSON-RPC error, or a closed connection).
        """
        config = self.servers.get(server)
        if config is None:
            raise ServerGone(f"unknown MCP server '{server}'")
        seconds = config.tool_timeout_sec if timeout is None else timeout
        try:
            with anyio.fail_after(seconds):
                connection = await self.ensure(server)
                assert connection.session is not None
                return await connection.session.read_resource(uri, meta=meta)  # type: ignore[arg-type]
        except TimeoutError:
            raise ToolCallTimeout(seconds) from None

    async def list_resources(self, server: str) -> tuple[list[types.Resource], list[types.ResourceTemplate]]:
        """All resources and resource templates of a ready server (empty when unsupported)."""
        connection = await self.ensure(server)
        session = connection.session
        assert session is not None
        caps = session.server_capabilities
        if caps is None or caps.resources is None:
            return [], []
        resources: list[types.Resource] = []
        templates: list[types.ResourceTemplate] = []
        try:
            cursor: str | None = None
            while True:
                params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_resources(params=params)
                resources.extend(page.resources)
                if not page.next_cursor or page.next_cursor == cursor:
                    break
                cursor = page.next_cursor
            cursor = None
            while True:
                tpage = await session.list_resource_templates(
                    params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
                )
                templates.extend(tpage.resource_templates)
                if not tpage.next_cursor or tpage.next_cursor == cursor:
                    break
                cursor = tpage.next_cursor
        except Exception as exc:  # noqa: BLE001
            log.info("MCP server %s: listing resources failed: %s", server, describe_error(exc))
        return resources, templates
