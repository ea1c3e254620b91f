"""What a handler gets besides its params: the server, the connection, and ``respond``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError, RequestId

if TYPE_CHECKING:
    from rootstep.app_server.connection import Connection
    from rootstep.app_server.server import AppServer
    from rootstep.core.thread import Thread


@dataclass
class RequestContext:
    server: AppServer
    connection: Connection
    request_id: RequestId
    method: str
    responded: bool = field(default=False)

    async def respond(self, result: Any) -> None:
        """Answer now (at most once); later notifications then follow the response on the wire."""
        if self.responded:
            return
        self.responded = True
        await self.connection.send_result(self.request_id, result)

    async def respond_error(self, code: int, message: str, data: Any = None) -> None:
        if self.responded:
            return
        self.responded = True
        await self.connection.send_error(self.request_id, code, message, data)


def loaded_thread(ctx: RequestContext, thread_id: str) -> Thread:
    """The loaded thread ``thread_id``, or ``-32600 thread not found: <id>``."""
    try:
        return ctx.server.manager.loaded(thread_id)
    except ThreadError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
