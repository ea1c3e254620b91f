"""The app-server: configuration, the thread manager, the method table and its connections.

Notifications from threads fan out to every initialized connection (each applies its own
``optOutNotificationMethods``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from rootstep.app_server.connection import Connection
from rootstep.app_server.handshake import ClientSession
from rootstep.app_server.methods import MethodTable
from rootstep.config import Config
from rootstep.core.manager import ThreadManager
from rootstep.core.step_tools import StepToolsProviderFactory, empty_provider_factory
from rootstep.protocol.notifications import ConfigWarning, Notification

log = logging.getLogger(__name__)


def audience(connections: list[Connection], thread_id: Any) -> list[Connection]:
    """Who hears a notification: the connections subscribed to its thread (the ones that
    started, resumed, forked or ran a turn on it) when it has any; else every connection (a
    thread nobody follows, and notifications about no thread)."""
    if isinstance(thread_id, str):
        subscribed = [c for c in connections if thread_id in c.subscriptions]
        if subscribed:
            return subscribed
    return list(connections)


def subscribed_elsewhere(connections: list[Connection], thread_id: str, connection: Connection) -> bool:
    return any(thread_id in c.subscriptions for c in connections if c is not connection)


class AppServer:
    def __init__(
        self,
        config: Config,
        *,
        tools_factory: StepToolsProviderFactory = empty_provider_factory,
        overrides: list[str] | None = None,
    ) -> None:
        self.config = config
        self.overrides = list(overrides or [])
        self.connections: list[Connection] = []
        self.methods = MethodTable()
        self.manager = ThreadManager(config, emit=self.emit, tools_factory=tools_factory)
        # Hooks other layers may add (called once per initialized connection).
        self.on_connection: list[Callable[[Connection], Awaitable[None]]] = []
        # ... and once per connection that has gone (it is no longer in ``connections``).
        self.on_disconnect: list[Callable[[Connection], Awaitable[None]]] = []
        # Long-lived services other layers attach (MCP runtime, environments, ...), by name.
        self.services: dict[str, Any] = {}
        from rootstep.app_server.processors import history, register_all

        register_all(self)
        history.register(self)  # thread/turns/list, thread/items/list, thread/items/read

    async def emit(self, notification: Notification) -> None:
        """Send a notification model (any pydantic model with a ``METHOD`` class var) to its
        audience (:func:`audience`)."""
        method = type(notification).METHOD
        for connection in audience(self.connections, getattr(notification, "thread_id", None)):
            if connection.initialized:
                await connection.notify(method, notification)

    async def notify(self, method: str, params: Any) -> None:
        """The same for a notification that has no model class here (other layers' extras)."""
        thread_id = params.get("threadId") if isinstance(params, dict) else getattr(params, "thread_id", None)
        for connection in audience(self.connections, thread_id):
            if connection.initialized:
                await connection.notify(method, params)

    def on_initialized(self, connection: Connection) -> None:
        # The first client's name becomes the originator of model requests (Codex behaviour).
        if connection.session is not None and self.manager.originator == "rootstep":
            self.manager.originator = connection.session.originator

    async def after_initialize(self, connection: Connection) -> None:
        for warning in self.config.warnings:
            await connection.notify(ConfigWarning.METHOD, ConfigWarning(summary=warning))
        for hook in self.on_connection:
            await hook(connection)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The server's lifetime: the thread manager runs inside; on exit every thread is
        unloaded (reaping its children) and the services are closed. Any number of
        connections may be served inside (``--listen ws://`` / ``unix://``)."""
        try:
            async with anyio.create_task_group() as group:
                await group.start(self.manager.run)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose_services()

    async def serve_connection(self, connection: Connection) -> None:
        """Serve one connection (inside :meth:`running`) until its client goes away."""
        self.connections.append(connection)
        try:
            if connection.session is not None:
                self.on_initialized(connection)
                await self.after_initialize(connection)
            await connection.run()
        finally:
            self.connections.remove(connection)
            with anyio.CancelScope(shield=True):
                for hook in self.on_disconnect:
                    try:
                        await hook(connection)
                    except Exception:  # noqa: BLE001 - one layer's cleanup must not stop the others
                        log.exception("disconnect hook failed")

    async def serve(
        self,
        receive: ByteReceiveStream,
        send: ByteSendStream,
        *,
        session: ClientSession | None = None,
    ) -> None:
        """Serve one connection until EOF, then unload every thread (reaping their children)."""
        async with self.running():
            await self.serve_connection(Connection(self, receive, send, session=session))

    async def aclose_services(self) -> None:
        for name, service in list(self.services.items()):
            close = getattr(service, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:  # noqa: BLE001
                log.exception("closing service %s failed", name)
