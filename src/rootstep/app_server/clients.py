"""The connected clients: who hears a notification, and who is asked when a thread needs an
answer (approvals, servers' elicitations)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.protocol.notifications import NotificationModel

if TYPE_CHECKING:
    from rootstep.app_server.connection import Connection

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


def followers(connections: list[Connection], thread_id: str) -> list[Connection]:
    """The initialized, open connections following ``thread_id``: the only ones a question about
    the thread (an approval, a server's elicitation) may go to. Unlike a notification, a question
    is never broadcast: a client that does not follow the thread must not answer for it."""
    return [c for c in connections if thread_id in c.subscriptions and c.initialized and not c.peer.closed]


def subscribed_elsewhere(connections: list[Connection], thread_id: str, connection: Connection) -> bool:
    return any(thread_id in c.subscriptions for c in connections if c is not connection)


class Clients:
    """Every connection of the server (stdio: one; ``--listen ws://``/``unix://``: many)."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []

    async def emit(self, notification: NotificationModel) -> None:
        """Send a notification model (a pydantic model with a ``METHOD``) to its audience."""
        method = type(notification).METHOD
        for connection in audience(self.connections, getattr(notification, "thread_id", None)):
            if connection.initialized:
                await connection.notify(method, notification)

    async def notify(self, method: str, params: Any) -> None:
        """The same for a notification that has no model class."""
        thread_id = params.get("threadId") if isinstance(params, dict) else getattr(params, "thread_id", None)
        for connection in audience(self.connections, thread_id):
            if connection.initialized:
                await connection.notify(method, params)

    async def ask(
        self, thread_id: str | None, method: str, params: Any, *, announce_resolved: bool = False
    ) -> Any | None:
        """A server→client request to the clients following ``thread_id``; the first answer
        wins. None when nobody answered (no follower, a client that went away or answered an
        error): the caller declines. With ``announce_resolved`` each asked client then hears
        ``serverRequest/resolved`` for its copy of the request (as 0.169 closes its approval
        and user-input prompts)."""
        connections = followers(self.connections, thread_id) if isinstance(thread_id, str) else []
        answers: list[Any] = []
        asked: list[tuple[Connection, Any]] = []

        async def ask_one(connection: Connection, scope: anyio.CancelScope) -> None:
            try:
                raw = await connection.request(method, params, on_id=lambda rid: asked.append((connection, rid)))
            except Exception as exc:  # noqa: BLE001 - closed connection / error answer
                log.info("%s to %s failed: %s", method, connection.name, exc)
                return
            if not answers:
                answers.append(raw)
                scope.cancel()

        try:
            async with anyio.create_task_group() as group:
                for connection in connections:
                    group.start_soon(ask_one, connection, group.cancel_scope)
        finally:
            if announce_resolved:
                with anyio.CancelScope(shield=True):
                    for connection, request_id in asked:
                        await connection.notify(
                            "serverRequest/resolved", {"threadId": thread_id, "requestId": request_id}
                        )
        return answers[0] if answers else None
