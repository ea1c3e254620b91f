"""The mock Responses server, plus one fault it cannot script: a stream cut mid-event.

:class:`FlakyModel` is a :class:`~tests.fixtures.mock_model.MockModel` whose queue also takes
:class:`CutStream` entries: the server streams the events before ``cut_at`` whole, then the
first half of the next event's bytes, then drops the connection without finishing the chunked
body (what a crashed proxy or a reset socket looks like to the client).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fixtures.mock_model import MockModel, MockResponse, RecordedRequest, sse_body


class _Dropped(Exception):
    """Raised inside the body iterator: uvicorn aborts the response mid-body."""


@dataclass(eq=False)
class CutStream(MockResponse):
    """Stream ``events[:cut_at]`` whole, half of ``events[cut_at]``, then drop the connection."""

    cut_at: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class FlakyModel(MockModel):
    """``responder``, when set, answers every request from its JSON body (many concurrent
    threads cannot share one FIFO queue: each needs the answer that fits its own step)."""

    def __init__(self, *, responder: Callable[[dict[str, Any]], MockResponse] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.responder = responder

    def _app(self):  # noqa: ANN202
        from starlette.responses import StreamingResponse

        inner = super()._app()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and self.responder is not None:
                await self._respond(scope, receive, send, StreamingResponse)
                return
            if scope["type"] == "http":
                with self._lock:
                    head = self._queue[0] if self._queue else None
                    if isinstance(head, CutStream):
                        self._queue.popleft()
                    else:
                        head = None
                if head is not None:
                    await self._cut(head, scope, receive, send, StreamingResponse)
                    return
            await inner(scope, receive, send)

        return app

    async def _record(self, scope: Any, receive: Any) -> Any:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        parsed = json.loads(body or b"null")
        with self._request_seen:
            self.requests.append(RecordedRequest(path=scope["path"], headers={}, body=parsed, received_at=time.time()))
            self._request_seen.notify_all()
        return parsed

    async def _respond(self, scope: Any, receive: Any, send: Any, streaming: Any) -> None:
        assert self.responder is not None
        scripted = self.responder(await self._record(scope, receive))

        async def stream():  # noqa: ANN202
            yield sse_body(scripted.events)

        await streaming(stream(), media_type="text/event-stream")(scope, receive, send)

    async def _cut(self, scripted: CutStream, scope: Any, receive: Any, send: Any, streaming: Any) -> None:
        await self._record(scope, receive)

        async def stream():  # noqa: ANN202
            yield sse_body(scripted.events[: scripted.cut_at])
            partial = sse_body([scripted.events[scripted.cut_at]])
            yield partial[: len(partial) // 2]
            scripted.reached_hold.set()
            raise _Dropped("connection dropped mid-event (scripted)")

        response = streaming(stream(), media_type="text/event-stream")
        try:
            await response(scope, receive, send)
        except* _Dropped:
            pass  # uvicorn has not sent the final chunk: the client sees a truncated body
