"""Entry point of ``rootstep exec-server --listen stdio|stdio://|ws://IP:PORT``.

stdout carries protocol only (stdio) or the one line with the bound URL (websocket); logs go
to stderr. Over stdio the first ``initialize`` is answered by :mod:`.fast_start` before anyio,
pydantic and the handlers are imported, so a client that spawns an executor on demand is not
kept waiting for them.
"""

from __future__ import annotations

import functools
import http
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from rootstep.exec_server.ws_auth import WsAuthPolicy, authorize, policy_from_args
from rootstep.socket_addr import is_loopback, parse_socket_addr

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
    """``stdio``/``stdio://`` → ("stdio", "", 0); ``ws://IP:PORT`` → ("ws", IP, PORT), the address
    a literal IP as codex parses it (``localhost``, ``127.1``, ``0`` are refused, so what is
    bound is what the URL says). Errors are codex 0.169's."""
    if listen in ("stdio", "stdio://"):
        return "stdio", "", 0
    if not listen.startswith("ws://"):
        raise ValueError(f"unsupported --listen URL `{listen}`; expected `ws://IP:PORT` or `stdio`")
    address = parse_socket_addr(listen[len("ws://"):])
    if address is None:
        raise ValueError(f"invalid websocket --listen URL `{listen}`; expected `ws://IP:PORT`")
    return "ws", *address


def check_exposure(kind: str, host: str, port: int, auth: WsAuthPolicy) -> None:
    """Refuse a listener anyone on the network could run commands through: a websocket bound
    to a non-loopback address needs ``--ws-auth`` (codex 0.169 requires this of its app-server;
    rootstep of the exec-server too)."""
    if kind == "ws" and auth.mode is None and not is_loopback(host):
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise ValueError(
            f"refusing to start non-loopback websocket listener {shown} without auth; use "
            "`--ws-auth capability-token` or `--ws-auth signed-bearer-token`, or bind 127.0.0.1"
        )


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


async def serve_websocket(
    host: str, port: int, *, ready: anyio.Event | None = None, ttl: float | None = None,
    auth: WsAuthPolicy | None = None,
) -> None:
    """Serve websocket connections until cancelled; one ``ExecServerConnection`` each, all
    sharing one session registry so a reconnecting client can resume its session. ``auth``
    decides who may upgrade (:mod:`.ws_auth`; default: anyone, for loopback listeners)."""
    from rootstep.exec_server.sessions import SessionRegistry

    async with SessionRegistry.open(ttl=session_ttl() if ttl is None else ttl) as registry:
        await _serve_websocket(host, port, registry, ready, auth or WsAuthPolicy())


async def _serve_websocket(
    host: str, port: int, registry: SessionRegistry, ready: anyio.Event | None, auth: WsAuthPolicy
) -> None:
    import anyio
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.http11 import Request, Response

    from rootstep.exec_server.connection import ExecServerConnection

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if request.headers.get("Origin") is not None:
            return conn.respond(http.HTTPStatus.FORBIDDEN, "requests with an Origin header are refused\n")
        if path == "/readyz":
            return conn.respond(http.HTTPStatus.OK, "ok\n")
        if path != "/":
            return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        refusal = authorize(auth, request.headers.get("Authorization"))
        if refusal is not None:
            log.warning("refusing a websocket upgrade: %s", refusal)
            return conn.respond(http.HTTPStatus.UNAUTHORIZED, refusal)
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

    async with serve(
        handler, host, port, process_request=process_request, max_size=MAX_LINE, ping_interval=30
    ) as server:
        sock = next(iter(server.sockets))
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        sys.stdout.write(f"ws://{shown}:{bound_port}\n")
        sys.stdout.flush()
        if ready is not None:
            ready.set()
        await anyio.sleep_forever()


def run(listen: str = "ws://127.0.0.1:0", auth_args: dict[str, Any] | None = None) -> int:
    """``auth_args``: the ``--ws-*`` flags as :func:`.ws_auth.policy_from_args` keywords."""
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("ROOTSTEP_LOG", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        kind, host, port = parse_listen(listen)
        args = dict(auth_args or {})
        auth = policy_from_args(args.pop("ws_auth", None), **args)
        check_exposure(kind, host, port, auth)
    except ValueError as exc:  # WsAuthError included
        print(f"rootstep exec-server: {exc}", file=sys.stderr)
        return 2
    handshake = None
    if kind == "stdio":
        from rootstep import preload
        from rootstep.exec_server.fast_start import handshake as fast_handshake

        # The handlers load in the background while the first exchange is answered.
        handlers = preload.start([*preload.RUNTIME_MODULES, "rootstep.exec_server.connection"])
        handshake = fast_handshake()
        if handshake.eof and handshake.session_id is None and not handshake.replay.strip():
            return 0
        if handlers is not None:
            handlers.join()
        from rootstep.exec_server.sessions import PROCESSES_MODULE  # loaded with the handlers

        # Processes (with the sandbox) load once the first request after initialize is answered.
        preload.start_later([PROCESSES_MODULE])
    import anyio

    from rootstep.exec_server import reaper

    reaper.start()
    try:
        if kind == "stdio":
            anyio.run(serve_stdio, handshake)
        else:
            anyio.run(functools.partial(serve_websocket, host, port, auth=auth))
    except KeyboardInterrupt:
        pass
    return 0
