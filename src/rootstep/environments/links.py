"""Opening an exec-server link: a stdio child process, or a websocket URL.

Each opener is an async context manager that owns the link (its reader task, the child's
stderr drain, the child itself) and yields an initialized :class:`ExecServerClient`. Leaving
the context reaps everything: stdin is closed (the executor then kills its own children and
exits), then SIGTERM to the executor's process group, 2 s, SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, Process

from rootstep.environments.exec_client import DISCONNECTED, ExecServerClient
from rootstep.environments.exec_recovery import RECOVERY_RETRY_INTERVAL_S, RECOVERY_TIMEOUT_S
from rootstep.environments.local_fs import os_error_text
from rootstep.jsonrpc.errors import SESSION_ALREADY_ATTACHED, ConnectionClosed, JsonRpcError
from rootstep.jsonrpc.framing import LineReader

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024 * 1024
STDIN_EOF_GRACE_S = 0.5
SIGTERM_GRACE_S = 2.0
STDERR_TAIL_LINES = 3


class ExecutorStartError(Exception):
    """The executor could not be started or did not complete the handshake."""

    def __init__(self, message: str) -> None:
        super().__init__(f"exec-server connection attempt failed: {message}")
        self.reason = message


async def _drain_stderr(stream: ByteReceiveStream | None, name: str, tail: deque[str]) -> None:
    """Read the executor's stderr so it never blocks; log it and keep the last lines (for a
    startup error message), never parse it."""
    if stream is None:
        return
    try:
        async for line in LineReader(stream, max_line=1024 * 1024):
            text = line.decode("utf-8", "replace")
            log.debug("%s stderr: %s", name, text)
            tail.append(text[:500])
    except Exception:
        pass


async def _wait_exit(process: Process, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(0.01)
        return True
    return process.returncode is not None


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_process_group(process: Process) -> None:
    """stdin EOF, then SIGTERM to the group, then SIGKILL; the group is killed in any case."""
    with anyio.CancelScope(shield=True):
        try:
            if process.stdin is not None:
                await process.stdin.aclose()
        except Exception:
            pass
        if not await _wait_exit(process, STDIN_EOF_GRACE_S):
            _killpg(process.pid, signal.SIGTERM)
            if not await _wait_exit(process, SIGTERM_GRACE_S):
                _killpg(process.pid, signal.SIGKILL)
                await _wait_exit(process, 2.0)
        _killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
        try:
            await process.aclose()
        except Exception:
            pass


@asynccontextmanager
async def open_stdio_link(
    program: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    initialize_timeout: float = 10.0,
    name: str = "exec-server",
) -> AsyncIterator[ExecServerClient]:
    """Spawn ``program args`` (inherited env + ``env``) in its own process group and handshake."""
    try:
        process = await anyio.open_process(
            [program, *args], env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True
        )
    except OSError as exc:
        raise ExecutorStartError(f"failed to spawn exec-server: {os_error_text(exc)}") from None
    assert process.stdin is not None and process.stdout is not None
    stdin = process.stdin

    async def write_line(line: bytes) -> None:
        try:
            await stdin.send(line)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            client.close()
            raise ConnectionClosed(client.failure or "exec-server transport disconnected") from None

    client = ExecServerClient(write_line, name=name)
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    # Errors are carried out of the task group by hand so callers see them unwrapped.
    error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, LineReader(process.stdout, max_line=MAX_LINE))
            tg.start_soon(_drain_stderr, process.stderr, name, stderr_tail)
            try:
                try:
                    await _handshake(client, initialize_timeout)
                except ExecutorStartError as exc:
                    await _wait_exit(process, 0.2)  # let its last words reach the drain
                    if stderr_tail and process.returncode is not None:
                        stderr = " | ".join(stderr_tail)
                        raise ExecutorStartError(
                            f"{exc.reason} (exit status {process.returncode}; stderr: {stderr})"
                        ) from None
                    raise
                yield client
            except Exception as exc:
                error = exc
            finally:
                client.close("exec-server link closed")
                await stop_process_group(process)
                tg.cancel_scope.cancel()
    finally:
        await stop_process_group(process)
    if error is not None:
        raise error


async def _handshake(client: ExecServerClient, timeout: float) -> None:
    try:
        await client.initialize(timeout)
    except TimeoutError:
        raise ExecutorStartError(f"timed out waiting for exec-server initialize handshake after {timeout:g}s") from None
    except JsonRpcError as exc:
        raise ExecutorStartError(exc.message) from None


async def _ws_connect(url: str, timeout: float) -> Any:
    from websockets.asyncio.client import connect

    with anyio.fail_after(timeout):
        return await connect(url, max_size=MAX_LINE, open_timeout=None, ping_interval=None)


async def _ws_frames(ws: Any, name: str) -> AsyncIterator[bytes | str]:
    try:
        async for message in ws:
            yield message
    except Exception as exc:
        log.info("%s websocket closed: %r", name, exc)


async def _ws_close(ws: Any) -> None:
    with anyio.CancelScope(shield=True):
        try:
            await ws.close()
        except Exception:
            pass


@asynccontextmanager
async def open_websocket_link(
    url: str,
    *,
    connect_timeout: float = 10.0,
    initialize_timeout: float = 10.0,
    name: str = "exec-server",
    recovery_timeout: float = RECOVERY_TIMEOUT_S,
) -> AsyncIterator[ExecServerClient]:
    """Connect to ``ws://…`` (one JSON-RPC message per text frame) and handshake.

    When the connection drops after the handshake, the link recovers it like the reference's
    ``client_recovery.rs``: every 100 ms, for up to ``recovery_timeout`` seconds, it reconnects
    and resumes the session (``initialize{resumeSessionId}``; ``-32010`` — the executor has
    not noticed the old connection is gone yet — is retried). The client object stays the
    same throughout; only if recovery fails does it close, as a link without recovery would.
    """
    try:
        ws = await _ws_connect(url, connect_timeout)
    except TimeoutError:
        raise ExecutorStartError(f"timed out connecting to {url} after {connect_timeout:g}s") from None
    except Exception as exc:
        raise ExecutorStartError(f"failed to connect to {url}: {exc}") from None

    def writer(conn: Any) -> Callable[[bytes], Awaitable[None]]:
        async def write_line(line: bytes) -> None:
            try:
                await conn.send(line.rstrip(b"\n").decode("utf-8"))
            except Exception:
                if conn is current:
                    client.lose_connection()  # the reader will notice too; recovery decides
                raise ConnectionClosed(client.failure or DISCONNECTED) from None

        return write_line

    current = ws
    client = ExecServerClient(writer(ws), name=name)

    async def serve(conn: Any, ended: anyio.Event) -> None:
        try:
            await client.read_messages(_ws_frames(conn, name))
        finally:
            ended.set()

    async def recover() -> bool:
        """Reconnect and resume until it works, is refused for good, or time runs out."""
        nonlocal current
        deadline = anyio.current_time() + recovery_timeout
        error = "recovery timed out"
        while True:
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                break
            candidate = None
            try:
                candidate = await _ws_connect(url, min(connect_timeout, remaining))
                current = candidate
                client.install(writer(candidate))
                ended = anyio.Event()
                tg.start_soon(serve, candidate, ended)
                with anyio.fail_after(max(deadline - anyio.current_time(), 0.001)):
                    await client.resume_session()
                if not ended.is_set():
                    client.finish_recovery()
                    await ended.wait()  # serve the resumed connection until it drops
                    return True
            except TimeoutError:
                error = f"recovery timed out after {recovery_timeout:g}s"
            except ConnectionClosed as exc:
                error = exc.message
            except JsonRpcError as exc:
                error = exc.message
                if exc.code != SESSION_ALREADY_ATTACHED:
                    if candidate is not None:
                        await _ws_close(candidate)
                    break
            except Exception as exc:  # connect refused / reset: the executor may be back soon
                error = str(exc) or repr(exc)
            if candidate is not None:
                await _ws_close(candidate)
            await anyio.sleep(min(RECOVERY_RETRY_INTERVAL_S, max(deadline - anyio.current_time(), 0)))
        client.close(f"{DISCONNECTED}; failed to resume exec-server session: {error}")
        return False

    async def supervise(first_ended: anyio.Event) -> None:
        await first_ended.wait()
        while client.failure is None and client.session_id is not None:
            log.info("%s: websocket connection lost; resuming session %s", name, client.session_id)
            client.lose_connection()
            await _ws_close(current)
            if not await recover():
                return
        client.close(DISCONNECTED)

    error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            first_ended = anyio.Event()
            tg.start_soon(serve, ws, first_ended)
            tg.start_soon(supervise, first_ended)
            try:
                await _handshake(client, initialize_timeout)
                yield client
            except Exception as exc:
                error = exc
            finally:
                client.close("exec-server link closed")
                tg.cancel_scope.cancel()
    finally:
        await _ws_close(current)
        if current is not ws:
            await _ws_close(ws)
    if error is not None:
        raise error
