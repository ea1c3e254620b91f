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
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import ByteReceiveStream, Process

from rootstep.environments.exec_client import ExecServerClient
from rootstep.environments.local_fs import os_error_text
from rootstep.jsonrpc.errors import ConnectionClosed, JsonRpcError
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
                        raise ExecutorStartError(f"{exc.reason} (exit status {process.returncode}; stderr: {' | '.join(stderr_tail)})") from None
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


@asynccontextmanager
async def open_websocket_link(
    url: str, *, connect_timeout: float = 10.0, initialize_timeout: float = 10.0, name: str = "exec-server"
) -> AsyncIterator[ExecServerClient]:
    """Connect to ``ws://…`` (one JSON-RPC message per text frame) and handshake."""
    from websockets.asyncio.client import connect

    try:
        with anyio.fail_after(connect_timeout):
            ws = await connect(url, max_size=MAX_LINE, open_timeout=None, ping_interval=None)
    except TimeoutError:
        raise ExecutorStartError(f"timed out connecting to {url} after {connect_timeout:g}s") from None
    except Exception as exc:
        raise ExecutorStartError(f"failed to connect to {url}: {exc}") from None

    async def write_line(line: bytes) -> None:
        try:
            await ws.send(line.rstrip(b"\n").decode("utf-8"))
        except Exception:
            client.close()
            raise ConnectionClosed(client.failure or "exec-server transport disconnected") from None

    async def frames() -> AsyncIterator[bytes | str]:
        try:
            async for message in ws:
                yield message
        except Exception as exc:
            log.info("%s websocket closed: %r", name, exc)

    client = ExecServerClient(write_line, name=name)
    error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, frames())
            try:
                await _handshake(client, initialize_timeout)
                yield client
            except Exception as exc:
                error = exc
            finally:
                client.close("exec-server link closed")
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await ws.close()
    if error is not None:
        raise error
