"""One process for every thread that holds the identical shareable MCP server.

Beyond the reference (which runs one process per server per thread): a server declared with
``shareable = true`` is run once per app-server process for all threads whose projection holds
the *same* server — the same name and resolved config, the same environment generation, the
same working folder, and the same principal (the values of every environment variable the
server would read: ``env_vars``, ``bearer_token_env_var``, ``env_http_headers``; OAuth tokens
are keyed by name and URL in the process's one credential store, which name and config cover).
Anything different is another key, hence another process.

:class:`SharedServers` is the process-wide registry (one per app-server, in its services; the
servers run in the app-server's task group, its *owner*). A
thread's :class:`~rootstep.mcp.server_pool.ServerPool` *leases* a
shared server instead of starting its own; the process starts with the first lease and stops
when the last lease is released (thread unload, projection change, resume elsewhere).

Calls from different threads are multiplexed on the one MCP session (the SDK correlates
concurrent requests); each call still carries its caller's ``_meta.threadId``. A crash is a
status update to every lessee and a tool error to every call in flight; the connection manager
restarts the server on its next use. A server-initiated elicitation is forwarded to the one
thread with a call in flight on that server; when several threads (or none) have one, it is
declined, since the MCP request does not say which call it belongs to.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.config.mcp_servers import HttpTransport, McpServerConfig, StdioTransport

if TYPE_CHECKING:
    from rootstep.mcp.manager import Owner

log = logging.getLogger(__name__)

StatusCallback = Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True)
class ShareKey:
    """What must be equal for two threads to use one process."""

    name: str
    config: McpServerConfig
    generation: int
    cwd: str | None
    principal: str


def principal_of(config: McpServerConfig, environ: Mapping[str, str]) -> str:
    """A digest of the environment values the server would see (never the values themselves)."""
    transport = config.transport
    names: list[str] = []
    if isinstance(transport, StdioTransport):
        names = [v.name for v in transport.env_vars]
    elif isinstance(transport, HttpTransport):
        if transport.bearer_token_env_var:
            names.append(transport.bearer_token_env_var)
        names.extend(var for _, var in transport.env_http_headers)
    digest = hashlib.sha256()
    for name in sorted(set(names)):
        value = environ.get(name)
        digest.update(f"{name}\0{'' if value is None else '=' + value}\0".encode())
    return digest.hexdigest()


def share_key(name: str, config: McpServerConfig, generation: int, transports: Any) -> ShareKey:
    """Pure: the key under which ``name`` is shared for a thread using ``transports``."""
    environ = getattr(transports, "environ", None)
    cwd = None
    if isinstance(config.transport, StdioTransport) and config.transport.cwd is None:
        cwd = getattr(transports, "default_cwd", None)
    return ShareKey(name, config, generation, cwd, principal_of(config, os.environ if environ is None else environ))


class _SharedElicitation:
    """The shared session's elicitation callback: to the only thread with a call in flight."""

    def __init__(self, shared: SharedServer) -> None:
        self._shared = shared

    def callback_for(self, server: str) -> Callable[..., Awaitable[Any]]:
        import mcp_types as types

        async def on_elicit(context: Any, params: Any) -> Any:
            routers = [r for r, n in self._shared.in_flight.items() if n > 0 and r is not None]
            if len(routers) != 1:
                log.info("shared MCP server %s: elicitation with %d threads in flight declined", server, len(routers))
                return types.ElicitResult(action="decline")
            return await routers[0].callback_for(server)(context, params)

        return on_elicit


@dataclass(eq=False)
class SharedServer:
    """One running shared server and its lessees."""

    key: ShareKey
    manager: Any  # ConnectionManager
    leases: set[Lease] = field(default_factory=set)
    in_flight: dict[Any, int] = field(default_factory=dict)  # thread router -> calls
    last_status: Any = None
    ready: anyio.Event = field(default_factory=anyio.Event)

    async def fan_out(self, status: Any) -> None:
        self.last_status = status
        for lease in list(self.leases):
            await lease.notify(status)


@dataclass(eq=False)
class Lease:
    """A thread's hold on a shared server; release it once (later releases do nothing)."""

    registry: SharedServers
    shared: SharedServer
    on_status: StatusCallback | None
    released: bool = False

    @property
    def key(self) -> ShareKey:
        return self.shared.key

    @property
    def manager(self) -> Any:
        return self.shared.manager

    async def notify(self, status: Any) -> None:
        if self.on_status is None:
            return
        try:
            result = self.on_status(status)
            if hasattr(result, "__await__"):
                await result  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - one thread's listener must not break the others
            log.exception("status listener of a shared MCP server failed")

    async def call_tool(self, server: str, tool: str, arguments: Any, *, router: Any = None, **kw: Any) -> Any:
        """A call on the shared session, counted so elicitations find their thread."""
        in_flight = self.shared.in_flight
        in_flight[router] = in_flight.get(router, 0) + 1
        try:
            return await self.shared.manager.call_tool(server, tool, arguments, **kw)
        finally:
            in_flight[router] -= 1
            if in_flight[router] <= 0:
                del in_flight[router]

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await self.registry._release(self)


@dataclass(eq=False)
class SharedServers:
    """The process-wide registry of shared servers (an app-server service)."""

    owner: Owner | None = None  # where the servers' supervisors run
    _running: dict[ShareKey, SharedServer] = field(default_factory=dict)
    starts: int = 0  # observability (tests, bench)

    async def lease(self, key: ShareKey, transports: Any, on_status: StatusCallback | None = None) -> Lease:
        """Hold the server for ``key``, starting it with the first lessee."""
        from rootstep.mcp.manager import ConnectionManager

        shared = self._running.get(key)
        if shared is None or shared.manager.closed:
            shared = SharedServer(key, None)
            shared.manager = ConnectionManager(
                {key.name: key.config}, transports=transports, on_status=shared.fan_out,
                elicitation=_SharedElicitation(shared),  # type: ignore[arg-type]
                owner=self.owner,
            )
            self._running[key] = shared
            self.starts += 1
            lease = Lease(self, shared, on_status)
            shared.leases.add(lease)
            try:
                await shared.manager.start()
            except BaseException:
                await lease.release()
                raise
            finally:
                shared.ready.set()
            return lease
        lease = Lease(self, shared, on_status)
        shared.leases.add(lease)
        await shared.ready.wait()
        if shared.manager.closed:  # its first lessee failed to start it: start afresh
            await lease.release()
            return await self.lease(key, transports, on_status)
        if shared.last_status is not None:  # the newcomer learns the state it missed
            await lease.notify(shared.last_status)
        return lease

    async def _release(self, lease: Lease) -> None:
        shared = lease.shared
        shared.leases.discard(lease)
        if shared.leases:
            return
        if self._running.get(shared.key) is shared:
            del self._running[shared.key]
        await shared.manager.aclose()

    def forget(self, key: ShareKey) -> None:
        """The next lease of ``key`` starts a new process (e.g. after an OAuth login); current
        lessees keep the old one until they release it."""
        self._running.pop(key, None)

    def running(self) -> int:
        """How many shared servers run now."""
        return len(self._running)

    async def aclose(self) -> None:
        running, self._running = list(self._running.values()), {}
        for shared in running:
            shared.leases.clear()
            await shared.manager.aclose()
