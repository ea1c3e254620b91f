"""Entry point of ``rootstep exec-server --listen stdio|stdio://|ws://IP:PORT``.

stdout carries protocol only (stdio) or the one line with the bound URL (websocket); logs go
to stderr. Over stdio the first ``initialize`` is answered by :mod:`.fast_start` before anyio,
pydantic and the handlers are imported, so a client that spawns an executor on demand is not
kept waiting for them.
"""

from __future__ import annotations

import http
import logging
import os
import sys
import urllib.parse
from collections.abc import AsyncIterator

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import anyio

    from rootstep.exec_server.fast_start import Handshake
    from rootstep.exec_server.sessions import SessionRegistry

log = logging.getLogger("rootstep.exec_server")

MAX_LINE = 64 * 1024 * 1024
# How long a websocket session outlives its connection; tests shorten it.
SESSION_TTL_ENV = "ROOTSTEP_EXEC_SERVER_SESSION_TTL_S"


def session_ttl(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """The detached-session TTL: the environment's override if it is a positive number, else 30 s."""
    from rootstep.exec_server.sessions import DETACHED_SESSION_TTL_S

    try:
        value = float(environ.get(SESSION_TTL_ENV, ""))
    except ValueError:
        return DETACHED_SESSION_TTL_S
    return value if value > 0 else DETACHED_SESSION_TTL_S


def parse_listen(listen: str) -> tuple[str, str, int]:
    """``stdio``/``stdio://`` → ("stdio", "", 0); ``ws://IP:PORT`` → ("ws", IP, PORT)."""
    if listen in ("stdio", "stdio://"):
        return "stdio", "", 0
    parsed = urllib.parse.urlsplit(listen)
    if parsed.scheme != "ws" or not parsed.hostname or parsed.port is None or parsed.path not in ("", "/"):
        raise ValueError(f"unsupported --listen value {listen!r}: expected stdio, stdio:// or ws://IP:PORT")
    return "ws", parsed.hostname, parsed.port


async def serve_stdio(handshake: Handshake | None = None) -> None:
    from rootstep.exec_server.connection import ExecServerConnection
    from rootstep.jsonrpc.framing import LineReader
    from rootstep.jsonrpc.stdio import Replay, open_stdio

    receive, send = await open_stdio()
    announced = handshake.session_id if handshake is not None else None
    if handshake is not None and handshake.replay:
        receive = Replay(handshake.replay, receive)
    connection = ExecServerConnection(send.send, transport="stdio", announced_session=announced)
    await connection.serve(LineReader(receive, max_line=MAX_LINE))


async def serve_websocket(host: str, port: int, *, ready: anyio.Event | None = None, ttl: float | None = None) -> None:
    """Serve websocket connections until cancelled; one ``ExecServerConnection`` each, all
    sharing one session registry so a reconnecting client can resume its session."""
    from rootstep.exec_server.sessions import SessionRegistry

    async with SessionRegistry.open(ttl=session_ttl() if ttl is None else ttl) as registry:
        await _serve_websocket(host, port, registry, ready)


async def _serve_websocket(host: str, port: int, registry: SessionRegistry, ready: anyio.Event | None) -> None:
    import anyio
    from websockets.asyncio.server import ServerConnection, serve

    from rootstep.exec_server.connection import ExecServerConnection
    from websockets.http11 import Request, Response

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if request.headers.get("Origin") is not None:
            return conn.respond(http.HTTPStatus.FORBIDDEN, "requests with an Origin header are refused\n")
        if path == "/readyz":
            return conn.respond(http.HTTPStatus.OK, "ok\n")
        if path != "/":
            return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        async def write_line(line: bytes) -> None:
            await ws.send(line.rstrip(b"\n").decode("utf-8"))

        async def frames() -> AsyncIterator[bytes | str]:
            try:
                async for message in ws:
                    yield message
            except Exception as exc:  # ConnectionClosedError: the client vanished
                log.info("websocket closed: %r", exc)

        await ExecServerConnection(write_line, transport="websocket", registry=registry).serve(frames())

    async with serve(handler, host, port, process_request=process_request, max_size=MAX_LINE, ping_interval=30) as server:
        sock = next(iter(server.sockets))
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        sys.stdout.write(f"ws://{shown}:{bound_port}\n")
        sys.stdout.flush()
        if ready is not None:
            ready.set()
        await anyio.sleep_forever()


def run(listen: str = "ws://127.0.0.1:0") -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("ROOTSTEP_LOG", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        kind, host, port = parse_listen(listen)
    except ValueError as exc:
        print(f"rootstep exec-server: {exc}", file=sys.stderr)
        return 2
    handshake = None
    if kind == "stdio":
        from rootstep.exec_server.fast_start import handshake as fast_handshake

        handshake = fast_handshake()
        if handshake.eof and handshake.session_id is None and not handshake.replay.strip():
            return 0
    import anyio

    from rootstep.exec_server import reaper

    reaper.start()
    try:
        if kind == "stdio":
            anyio.run(serve_stdio, handshake)
        else:
            anyio.run(serve_websocket, host, port)
    except KeyboardInterrupt:
        pass
    return 0
