"""The loopback listener that receives the authorization redirect (spec §7.2 steps 2 and 6).

Bound to 127.0.0.1 only, it answers exactly one path (``/callback/<callback id>`` or the
configured URL's path). A redirect with the wrong or a missing ``state`` is answered 400 and
ignored — no token request is made and the listener keeps waiting for the real one. An ``error``
redirect with no state or the right one ends the login. Requests are parsed with ``h11``; each
connection serves one request and is closed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import anyio
import h11
from anyio.abc import SocketAttribute, SocketListener, SocketStream

logger = logging.getLogger(__name__)

SUCCESS_TEXT = "Authentication complete. You may close this window."
INVALID_TEXT = "Invalid OAuth callback"
MAX_REQUEST_HEAD = 16 * 1024
REQUEST_READ_TIMEOUT_SECS = 10.0


@dataclass(frozen=True)
class CallbackCode:
    """A redirect carrying the code and the expected state (and ``iss``, RFC 9207, if sent)."""

    code: str
    iss: str | None = None


@dataclass(frozen=True)
class CallbackProviderError:
    """The authorization server redirected with ``error``/``error_description``."""

    error: str | None
    description: str | None

    def message(self) -> str:
        if self.error and self.description:
            return f"OAuth provider returned `{self.error}`: {self.description}"
        if self.error:
            return f"OAuth provider returned `{self.error}`"
        if self.description:
            return f"OAuth error: {self.description}"
        return "OAuth provider returned an error"


@dataclass(frozen=True)
class CallbackInvalid:
    """Anything else: wrong path, wrong or missing state, no code."""


CallbackOutcome = CallbackCode | CallbackProviderError | CallbackInvalid


def classify_callback(method: str, target: str, expected_path: str, expected_state: str) -> CallbackOutcome:
    """Decide what one request to the listener means. Pure, so every case is unit-tested."""
    if method.upper() != "GET":
        return CallbackInvalid()
    parts = urlsplit(target)
    if parts.path != expected_path or not parts.query:
        return CallbackInvalid()
    query = parse_qs(parts.query, keep_blank_values=True)

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    state, code = first("state"), first("code")
    state_ok = state is not None and secrets.compare_digest(state.encode(), expected_state.encode())
    if code and state is not None:
        return CallbackCode(code, first("iss")) if state_ok else CallbackInvalid()
    error, description = first("error"), first("error_description")
    if error is not None or description is not None:
        if state is not None and not state_ok:
            return CallbackInvalid()
        return CallbackProviderError(error, description)
    return CallbackInvalid()


@dataclass(frozen=True)
class CallbackReply:
    """What to answer, and whether the login is over."""

    status: int
    text: str
    final: bool


CallbackHandler = Callable[[CallbackOutcome], Awaitable[CallbackReply]]


class CallbackListener:
    """A bound loopback socket; :meth:`serve` answers requests until the handler says it is done."""

    def __init__(self, listener: SocketListener, path: str = "/callback") -> None:
        self._listener = listener
        self.path = path
        self._closed = False
        self._port = int(listener.extra(SocketAttribute.local_port))

    @classmethod
    async def bind(cls, port: int = 0) -> CallbackListener:
        """Bind 127.0.0.1:``port`` (0 = ephemeral). Raises OSError when the port is taken."""
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
        inner = listener.listeners[0] if hasattr(listener, "listeners") else listener
        return cls(inner)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self._port

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._listener.aclose()

    async def serve(self, expected_state: str, handler: CallbackHandler) -> None:
        """Answer requests on :attr:`path`; return once the handler's reply is final."""
        done = anyio.Event()
        turn = anyio.Lock()  # callbacks are handled one at a time: one code is ever exchanged

        async def one(stream: SocketStream) -> None:
            async with stream:
                try:
                    with anyio.fail_after(REQUEST_READ_TIMEOUT_SECS):
                        conn, request = await _read_request(stream)
                except (TimeoutError, h11.RemoteProtocolError, anyio.BrokenResourceError, anyio.EndOfStream):
                    return
                if request is None:
                    return
                outcome = classify_callback(
                    request.method.decode("ascii", "replace"),
                    request.target.decode("ascii", "replace"),
                    self.path,
                    expected_state,
                )
                async with turn:
                    if done.is_set():
                        reply = CallbackReply(400, INVALID_TEXT, False)
                    elif isinstance(outcome, CallbackInvalid):
                        logger.info("rejected an OAuth callback request (wrong path, state or parameters)")
                        reply = CallbackReply(400, INVALID_TEXT, False)
                    else:
                        reply = await handler(outcome)
                    try:
                        await _respond(stream, conn, reply.status, reply.text)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, h11.LocalProtocolError):
                        pass
                    if reply.final:
                        done.set()

        async with anyio.create_task_group() as tg:

            async def accept_loop() -> None:
                while True:
                    try:
                        stream = await self._listener.accept()
                    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                        return
                    tg.start_soon(one, stream)

            tg.start_soon(accept_loop)
            await done.wait()
            tg.cancel_scope.cancel()


async def _read_request(stream: SocketStream) -> tuple[h11.Connection, h11.Request | None]:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(65536)
            except anyio.EndOfStream:
                data = b""
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            return conn, event
        return conn, None


async def _respond(stream: SocketStream, conn: h11.Connection, status: int, text: str) -> None:
    body = text.encode()
    headers = [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", str(len(body))),
        ("connection", "close"),
        ("cache-control", "no-store"),
    ]
    await stream.send(conn.send(h11.Response(status_code=status, headers=headers)))
    await stream.send(conn.send(h11.Data(data=body)))
    await stream.send(conn.send(h11.EndOfMessage()))
