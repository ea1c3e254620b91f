"""The app-server: its services (built by :mod:`rootstep.app_server.wiring`), the method table
and the connections it serves.

Notifications from threads fan out to the connections that follow the thread
(:mod:`rootstep.app_server.clients`); each connection applies its own
``optOutNotificationMethods``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from rootstep.app_server import last_client
from rootstep.app_server.connection import Connection
from rootstep.app_server.handshake import ClientSession
from rootstep.app_server.methods import MethodTable
from rootstep.protocol.notifications import ConfigWarning, NotificationModel

if TYPE_CHECKING:
    from rootstep.app_server.wiring import AppServices
    from rootstep.config import Config
    from rootstep.core.manager import ThreadManager

log = logging.getLogger(__name__)


class AppServer:
    """Use :func:`rootstep.app_server.wiring.build_app_server` to make one."""

    def __init__(self, services: AppServices, methods: MethodTable) -> None:
        self.services = services
        self.methods = methods

    # --- the parts every handler reaches ----------------------------------------------------

    @property
    def config(self) -> Config:
        """The current config: what new threads get (``config/value/write`` reloads it)."""
        return self.services.threads.config

    @property
    def overrides(self) -> list[str]:
        return list(self.services.overrides)

    @property
    def manager(self) -> ThreadManager:
        return self.services.threads

    @property
    def connections(self) -> list[Connection]:
        return self.services.clients.connections

    async def emit(self, notification: NotificationModel) -> None:
        await self.services.clients.emit(notification)

    async def notify(self, method: str, params: Any) -> None:
        await self.services.clients.notify(method, params)

    # --- connections ------------------------------------------------------------------------

    def on_initialized(self, connection: Connection) -> None:
        # The first client's name becomes the originator of model requests (Codex behaviour).
        if connection.session is not None and self.manager.originator == "rootstep":
            self.manager.originator = connection.session.originator

    async def after_initialize(self, connection: Connection) -> None:
        for warning in self.config.warnings:
            await connection.notify(ConfigWarning.METHOD, ConfigWarning(summary=warning))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The server's lifetime: its task group holds the thread manager and the background
        work (MCP servers, executor links, OAuth waits). On exit every thread is unloaded
        (reaping its children), the services close, and whatever is left is cancelled. Any
        number of connections may be served inside (``--listen ws://`` / ``unix://``)."""
        background = self.services.background
        async with anyio.create_task_group() as group:
            background.attach(group)
            await group.start(self.manager.run)
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await self.manager.aclose()
                    await self.services.aclose()
                background.detach()
                group.cancel_scope.cancel()

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
                try:
                    await last_client.client_gone(self)
                except Exception:  # noqa: BLE001 - cleanup must not mask how the connection ended
                    log.exception("unloading the threads nobody follows failed")

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
