"""A JSON-RPC peer: allocates ids, awaits responses, writes whole lines under one lock.

The peer does not read by itself: its owner reads lines, parses them and hands responses to
:meth:`Peer.resolve`; requests and notifications are the owner's to dispatch. That keeps one
owner task per connection and lets each side (app-server, exec-server, their clients) decide
its own dispatch policy.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from rootstep.jsonrpc.errors import ConnectionClosed, JsonRpcError
from rootstep.jsonrpc.messages import (
    ErrorResponse,
    RequestId,
    Response,
    encode_error,
    encode_notification,
    encode_notification_json,
    encode_request,
    encode_response,
)

WriteLine = Callable[[bytes], Awaitable[None]]


class _Pending:
    __slots__ = ("event", "result", "error")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.result: Any = None
        self.error: JsonRpcError | None = None


class Peer:
    def __init__(
        self, write_line: WriteLine, *, first_id: int = 0, stamp_notifications: bool = False, atomic_lines: bool = False
    ) -> None:
        self._write_line = write_line
        self._lock = anyio.Lock(fast_acquire=True)  # no loop turn when uncontended (hot path)
        # A writer that puts each line out in one piece, in call order, needs no lock.
        self._atomic = atomic_lines
        self._ids = itertools.count(first_id)
        self._pending: dict[RequestId, _Pending] = {}
        self._stamp = stamp_notifications
        self._closed: ConnectionClosed | None = None

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def send_line(self, line: bytes) -> None:
        if self._closed is not None:
            raise self._closed
        if self._atomic:
            await self._write_line(line)
            return
        async with self._lock:
            await self._write_line(line)

    async def request(
        self, method: str, params: Any = None, *, timeout: float | None = None,
        on_id: Callable[[RequestId], None] | None = None,
    ) -> Any:
        """Send a request and wait for its result; a remote error raises JsonRpcError.
        ``on_id`` learns the request's id before it is sent."""
        if self._closed is not None:
            raise self._closed
        req_id = next(self._ids)
        if on_id is not None:
            on_id(req_id)
        pending = _Pending()
        self._pending[req_id] = pending
        try:
            await self.send_line(encode_request(req_id, method, params))
            if timeout is None:
                await pending.event.wait()
            else:
                with anyio.fail_after(timeout):
                    await pending.event.wait()
        finally:
            self._pending.pop(req_id, None)
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def notify(self, method: str, params: Any = None) -> None:
        await self.send_line(encode_notification(method, params, **self._stamps()))

    async def notify_json(self, method: str, params_json: bytes) -> None:
        """:meth:`notify` with params already serialized to JSON."""
        await self.send_line(encode_notification_json(method, params_json, **self._stamps()))

    def _stamps(self) -> dict[str, Any]:
        return {"emittedAtMs": int(time.time() * 1000)} if self._stamp else {}

    async def respond(self, req_id: RequestId, result: Any) -> None:
        await self.send_line(encode_response(req_id, result))

    async def respond_error(self, req_id: RequestId | None, error: JsonRpcError) -> None:
        await self.send_line(encode_error(req_id, error.code, error.message, error.data))

    def resolve(self, message: Response | ErrorResponse) -> bool:
        """Complete the pending request this answers; False if nobody waits for it."""
        pending = self._pending.get(message.id) if message.id is not None else None
        if pending is None:
            return False
        if isinstance(message, Response):
            pending.result = message.result
        else:
            err = message.error
            pending.error = JsonRpcError(err.code, err.message, err.data)
        pending.event.set()
        return True

    def close(self, reason: str = "JSON-RPC transport closed") -> None:
        """Fail every pending request at once; later sends raise ConnectionClosed."""
        if self._closed is None:
            self._closed = ConnectionClosed(reason)
        for pending in self._pending.values():
            pending.error = self._closed
            pending.event.set()
        self._pending.clear()
