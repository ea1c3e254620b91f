"""``rootstep app-server --listen ws://IP:PORT | unix://[PATH] | off``: many clients, one server.

Like codex 0.169 (``codex-rs/app-server-transport/src/transport/``):

- ``ws://IP:PORT`` serves websockets; each text message is one JSON-RPC message, and each
  outgoing message is one text message (binary messages are dropped with a warning). Port 0
  picks a free port; the bound address is printed on **stderr** in a banner (stdout stays
  unused). ``GET /readyz`` and ``/healthz`` answer 200; any request carrying an ``Origin``
  header is refused with 403 (browsers cannot drive a local server); every other path is
  upgraded. Without websocket auth (codex's ``--ws-auth``, not supported here) only loopback
  addresses may be bound.
- ``unix://PATH`` (relative to the cwd) or ``unix://`` (``$CODEX_HOME/app-server-control/
  app-server-control.sock``) serves the same websocket protocol over a unix socket (mode
  0600). As in codex 0.169, the control folder is kept a real folder of mode 0700, and the
  socket's folder must be one no other user can replace entries in (owned by us or root, not
  group/other-writable unless sticky): otherwise another local user could put their socket in
  ours' place and receive the client's handshake. A live socket at the path is an error; a
  stale one is replaced; the file is removed on shutdown.
- ``off`` listens nowhere; the server only waits for a signal.

A listener holds at most half of ``RLIMIT_NOFILE`` connections (more are aborted as they are
accepted), so a flood never leaves the server without descriptors; asyncio's per-accept error
when descriptors do run out is logged once every 10 s.

Every client gets its own :class:`~rootstep.app_server.connection.Connection` (its own
handshake, opt-outs and backpressure) on ONE :class:`AppServer`: threads are shared, and thread
notifications go to every initialized client. A client that leaves does not stop the server;
SIGTERM/SIGINT do, as in codex: the first signal waits (still serving) until no turn is
running, a second one stops at once; then the listener closes, every connection is closed,
every thread is unloaded and its children reaped.
"""

from __future__ import annotations

import errno
import http
import ipaddress
import logging
import os
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
from anyio.abc import ByteSendStream

from rootstep.app_server.connection import Connection
from rootstep.config.home import make_private_dirs
from rootstep.socket_addr import parse_socket_addr

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

    from rootstep.app_server.server import AppServer

log = logging.getLogger(__name__)

# axum's default websocket message limit, which codex keeps.
MAX_MESSAGE = 64 * 1024 * 1024
CONTROL_SOCKET_DIR = "app-server-control"
CONTROL_SOCKET_FILE = "app-server-control.sock"
STARTUP_LOCK_FILE = "app-server-startup.lock"
# A client that never answers the close handshake cannot hold the shutdown longer than this.
CLOSE_TIMEOUT = 5.0


class ListenError(ValueError):
    """A ``--listen`` value that cannot be served (the message is codex's)."""


@dataclass(frozen=True)
class Listen:
    kind: Literal["stdio", "unix", "ws", "off"]
    host: str = ""
    port: int = 0
    path: Path | None = None


def parse_listen(url: str, *, codex_home: Path, cwd: Path) -> Listen:
    """The transport a ``--listen`` URL names (codex's ``AppServerTransport::from_listen_url``)."""
    if url in ("stdio://", "stdio", "stdio:"):
        return Listen("stdio")
    if url.startswith("unix://"):
        raw = url[len("unix://"):]
        path = codex_home / CONTROL_SOCKET_DIR / CONTROL_SOCKET_FILE if not raw else cwd / raw
        return Listen("unix", path=Path(os.path.normpath(path)))
    if url == "off":
        return Listen("off")
    if url.startswith("ws://"):
        host, port = _socket_addr(url[len("ws://"):], url)
        if not ipaddress.ip_address(host).is_loopback:
            shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ListenError(
                f"refusing to start non-loopback websocket listener {shown} without auth; "
                "rootstep has no `--ws-auth`: bind 127.0.0.1 and use SSH port-forwarding"
            )
        return Listen("ws", host=host, port=port)
    raise ListenError(
        f"unsupported --listen URL `{url}`; expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, or `off`"
    )


def _socket_addr(text: str, url: str) -> tuple[str, int]:
    """``IP:PORT`` or ``[IPv6]:PORT``, as Rust's ``SocketAddr`` parses it (no host names)."""
    parsed = parse_socket_addr(text)
    if parsed is None:
        raise ListenError(f"invalid websocket --listen URL `{url}`; expected `ws://IP:PORT`")
    return parsed


# --- websocket connections ---------------------------------------------------------------


class _TextFrames(ByteSendStream):
    """Outgoing lines as websocket text messages (the newline is the stdio framing only)."""

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    async def send(self, item: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(item.rstrip(b"\n").decode("utf-8"))
        except ConnectionClosed as exc:
            raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        await self._ws.close()


async def _messages(ws: ServerConnection, name: str) -> AsyncIterator[bytes]:
    """Each text message, whole; ends when the client goes (a close or a broken socket)."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            if isinstance(message, bytes):
                log.warning("connection %s: dropping unsupported binary websocket message", name)
                continue
            if message.strip():
                yield message.encode("utf-8")
    except ConnectionClosed as exc:
        log.info("connection %s: websocket closed: %s", name, exc)


def _handler(server: AppServer, prefix: str) -> Callable[[ServerConnection], Coroutine[Any, Any, None]]:
    async def handle(ws: ServerConnection) -> None:
        peer = ws.remote_address
        name = f"{prefix}:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else prefix
        log.info("client connected: %s", name)
        connection = Connection(server, None, _TextFrames(ws), name=name, messages=_messages(ws, name))
        await server.serve_connection(connection)
        log.info("client gone: %s", name)

    return handle


def _process_request(conn: ServerConnection, request: Request) -> Response | None:
    """Origin → 403 (codex's middleware), /readyz and /healthz → 200, anything else upgrades."""
    path = request.path.split("?", 1)[0]
    if request.headers.get("Origin") is not None:
        log.warning("rejecting websocket listener request with Origin header (%s)", request.path)
        return conn.respond(http.HTTPStatus.FORBIDDEN, "")
    if path in ("/readyz", "/healthz"):
        return conn.respond(http.HTTPStatus.OK, "")
    return None


def websocket_banner(host: str, port: int) -> str:
    """What codex prints on stderr once the websocket listener is bound."""
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        "rootstep app-server (WebSockets)\n"
        f"  listening on: ws://{addr}\n"
        f"  readyz: http://{addr}/readyz\n"
        f"  healthz: http://{addr}/healthz\n"
        "  note: binds localhost only (use SSH port-forwarding for remote access)\n"
    )


def _print_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


# --- unix socket path ----------------------------------------------------------------------


SOCKET_PARENT_ERROR = (
    "socket parent must be owned by the user or root and prevent other users from replacing socket entries"
)


def prepare_private_directory(path: Path) -> None:
    """The control folder (``$CODEX_HOME/app-server-control``), as codex 0.169 keeps it: made
    0700, or, when it exists, a real folder (not a symlink) whose mode is reset to 0700."""
    make_private_dirs(path.parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EEXIST, f"socket directory path exists and is not a directory: {path}")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


def socket_parent_is_safe(uid: int, mode: int, euid: int) -> bool:
    """Whether nobody but us (or root) can replace entries in a folder owned by ``uid`` with
    ``mode``: owned by us or root, and not group/other-writable unless sticky (pure)."""
    if uid not in (euid, 0):
        return False
    return not (mode & (stat.S_IWGRP | stat.S_IWOTH)) or bool(mode & stat.S_ISVTX)


def prepare_socket_path(path: Path) -> None:
    """Refuse a parent folder another user could swap the socket in (codex 0.169's rule), a live
    socket or a non-socket file at ``path``; remove a stale socket (codex's
    ``prepare_control_socket_path``)."""
    make_private_dirs(path.parent)  # a new folder is private (codex: an error)
    st = os.stat(path.parent)
    if not socket_parent_is_safe(st.st_uid, st.st_mode, os.geteuid()):
        raise OSError(errno.EPERM, SOCKET_PARENT_ERROR)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except FileNotFoundError:
        return
    except ConnectionRefusedError:
        pass
    except OSError as exc:
        if not path.exists():
            return
        if exc.errno not in (errno.ENOTSOCK, errno.ECONNREFUSED):
            raise
    else:
        raise OSError(errno.EADDRINUSE, f"app-server control socket is already in use at {path}")
    finally:
        probe.close()
    if not path.exists():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise OSError(errno.EEXIST, f"app-server control socket path exists and is not a socket: {path}")
    path.unlink()


def _lock_startup(lock_path: Path) -> int:
    """Serialize concurrent start-ups on one control socket (codex's startup lock, in the
    private control folder, which is prepared first as codex does)."""
    import fcntl

    prepare_private_directory(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


# --- file descriptors: a cap on connections, a quiet log when they run out -----------------


def connection_cap(soft_nofile: int) -> int:
    """How many client connections one listener holds at once: half the descriptors the process
    may open (the other half: the listener, MCP servers' pipes, files, executor links), so a
    flood of connections never leaves the server without descriptors (pure)."""
    if soft_nofile <= 0 or soft_nofile >= 1 << 20:  # RLIM_INFINITY or absurdly large
        return 1 << 16
    return max(4, soft_nofile // 2)


def accept_burst(soft_nofile: int) -> int:
    """How many connections asyncio accepts in one go (its ``backlog``) before any of them is
    seen, and refused past the cap: small enough that bursts cannot use up the descriptors
    :func:`connection_cap` leaves (pure). The kernel's queue is widened again afterwards
    (:func:`widen_listen_queue`), so clients are not made to retry."""
    if soft_nofile <= 0 or soft_nofile >= 1 << 20:
        return 100
    return max(1, min(100, soft_nofile // 32))


LISTEN_QUEUE = 128


def widen_listen_queue(ws_server: Any, depth: int = LISTEN_QUEUE) -> None:
    """``listen(depth)`` on the bound sockets: asyncio passed its (small) accept burst as the
    kernel's queue length too."""
    for bound in ws_server.sockets:
        with socket.socket(fileno=os.dup(bound.fileno())) as same:
            same.listen(depth)


def _limits() -> dict[str, Any]:
    """The websockets ``serve`` arguments that keep a listener within ``RLIMIT_NOFILE``."""
    soft = _soft_nofile()
    return {"create_connection": capped_connections(connection_cap(soft)), "backlog": accept_burst(soft)}


def _soft_nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Throttle:
    """At most one log line per ``interval`` seconds for a repeating event, with a count of what
    was not logged since. ``due`` is a pure decision on the clock value it is given."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.last: float | None = None
        self.suppressed = 0

    def due(self, now: float) -> bool:
        if self.last is not None and now - self.last < self.interval:
            self.suppressed += 1
            return False
        self.last = now
        return True

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count


def capped_connections(cap: int) -> type:
    """A websockets ``ServerConnection`` class that refuses (aborts at once, before any byte is
    read) the connections past ``cap`` open ones, logging that at most every 10 s."""
    import time

    from websockets.asyncio.server import ServerConnection

    state = {"open": 0}
    throttle = Throttle()

    class CappedConnection(ServerConnection):
        refused = False

        def connection_made(self, transport: Any) -> None:
            if state["open"] >= cap:
                self.refused = True
                if throttle.due(time.monotonic()):
                    log.warning("refusing connections: %d are open, the limit (half of RLIMIT_NOFILE); "
                                "%d more refused since the last warning", cap, throttle.take_suppressed())
                transport.abort()
                return
            state["open"] += 1
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.refused:
                return
            state["open"] -= 1
            super().connection_lost(exc)

    return CappedConnection


ACCEPT_EXHAUSTED = "socket.accept() out of system resource"


def quiet_accept_errors(loop: Any) -> None:
    """asyncio logs ``socket.accept() out of system resource`` for every accept that fails for
    lack of descriptors (thousands a second, with a traceback each): let one through every
    10 s, with a count, and hand every other error to the previous handler."""
    import time

    previous = loop.get_exception_handler()
    throttle = Throttle()

    def handler(loop: Any, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_EXHAUSTED:
            if throttle.due(time.monotonic()):
                log.error("%s: %s (%d more since the last report)", ACCEPT_EXHAUSTED, context.get("exception"),
                          throttle.take_suppressed())
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


# --- serving ---------------------------------------------------------------------------------


async def _close(ws_server: object) -> None:
    """Close the listener and every connection (their handlers then return); shielded."""
    with anyio.CancelScope(shield=True) as scope:
        scope.deadline = anyio.current_time() + CLOSE_TIMEOUT * 2
        ws_server.close()  # type: ignore[attr-defined]
        await ws_server.wait_closed()  # type: ignore[attr-defined]


async def _serve_ws(server: AppServer, listen: Listen, stop: Shutdown) -> None:
    from websockets.asyncio.server import serve

    ws_server = await serve(
        _handler(server, "ws"), listen.host, listen.port,
        process_request=_process_request, max_size=MAX_MESSAGE, compression=None,
        ping_interval=None, close_timeout=CLOSE_TIMEOUT, **_limits(),
    )
    widen_listen_queue(ws_server)
    try:
        bound = next(iter(ws_server.sockets)).getsockname()
        _print_stderr(websocket_banner(bound[0], bound[1]))
        await stop.wait(server)
    finally:
        await _close(ws_server)


async def _serve_unix(server: AppServer, listen: Listen, stop: Shutdown) -> None:
    from websockets.asyncio.server import unix_serve

    assert listen.path is not None
    path = listen.path
    lock_fd = await anyio.to_thread.run_sync(_lock_startup, server.config.home / CONTROL_SOCKET_DIR / STARTUP_LOCK_FILE)
    try:
        prepare_socket_path(path)
        ws_server = await unix_serve(
            _handler(server, "unix"), str(path),
            max_size=MAX_MESSAGE, compression=None, ping_interval=None, close_timeout=CLOSE_TIMEOUT, **_limits(),
        )
        widen_listen_queue(ws_server)
    finally:
        os.close(lock_fd)
    try:
        os.chmod(path, 0o600)
        _print_stderr(f"rootstep app-server (unix socket)\n  listening on: unix://{path}\n")
        await stop.wait(server)
    finally:
        await _close(ws_server)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("failed to remove app-server control socket file %s: %s", path, exc)


def running_turns(threads: Iterable[Any]) -> list[Any]:
    """The active turns of the loaded threads (what a signal-initiated shutdown waits for)."""
    return [thread.active for thread in threads if getattr(thread, "active", None) is not None]


class Shutdown:
    """codex's signal handling for multi-client listeners: the first SIGTERM/SIGINT starts a
    drain (requests are still served until no turn is running, then the server stops), a
    second one forces the stop (running turns are interrupted)."""

    def __init__(self) -> None:
        self.requested = anyio.Event()
        self.forced = anyio.Event()

    async def watch_signals(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()  # the banner is printed after this: a client's SIGTERM is never lost
            async for signum in signals:
                if self.requested.is_set():
                    log.warning("received a second shutdown signal (%s); stopping now", signum)
                    self.forced.set()
                    return
                log.info("received signal %s; shutting down", signum)
                self.requested.set()

    async def wait(self, server: AppServer) -> None:
        """Until a signal asked for the stop and the running turns finished (or it was forced)."""
        await self.requested.wait()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:

                async def force() -> None:
                    await self.forced.wait()
                    scope.cancel()

                group.start_soon(force)
                while running := running_turns(server.manager.threads.values()):
                    log.warning("shutdown requested: waiting for %d running turn(s) to finish "
                                "(signal again to stop now)", len(running))
                    await running[0].done.wait()
                group.cancel_scope.cancel()


async def serve_listener(listen: Listen, overrides: list[str]) -> None:
    """Serve ``listen`` (not stdio) until SIGTERM/SIGINT, then stop in order."""
    import asyncio

    from rootstep.app_server.stdio import load_startup_config
    from rootstep.app_server.wiring import build_app_server

    quiet_accept_errors(asyncio.get_running_loop())
    server = build_app_server(load_startup_config(overrides), overrides=overrides)
    stop = Shutdown()
    async with server.running():
        async with anyio.create_task_group() as group:
            await group.start(stop.watch_signals)
            if listen.kind == "ws":
                await _serve_ws(server, listen, stop)
            elif listen.kind == "unix":
                await _serve_unix(server, listen, stop)
            else:
                _print_stderr("rootstep app-server (no listener)\n  listening on: off\n")
                await stop.wait(server)
            group.cancel_scope.cancel()


def run(url: str, overrides: list[str]) -> int:
    """Entry from :func:`rootstep.app_server.main.run` for every non-stdio ``--listen``."""
    from rootstep.config.home import codex_home

    try:
        listen = parse_listen(url, codex_home=codex_home(), cwd=Path.cwd())
    except ListenError as exc:
        print(f"rootstep app-server: {exc}", file=sys.stderr)
        return 2
    try:
        anyio.run(serve_listener, listen, overrides)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - only a listener that cannot be bound is expected
        failure = _os_error(exc)
        if failure is None:
            raise
        print(f"rootstep app-server: cannot listen on {url}: {failure.strerror or failure}", file=sys.stderr)
        return 1
    return 0


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError (bind failure, socket in use) inside what the task groups raised."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None
