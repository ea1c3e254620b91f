"""A stdio MCP server as a child process of this host, exposed as an SDK stream pair.

Why not the SDK's ``stdio_client``: its reader decodes stdout as one text stream, so a single
non-UTF-8 byte from a server kills the reader and leaves every pending request waiting
forever. Here each stdout *line* is decoded on its own: a bad line becomes an error value
(logged by the session), and an undecodable *response* becomes a JSON-RPC error for its
request id (see :func:`parse_line`), so the caller gets a clear error at once.

Process policy (spec §3.2, §5.8): environment cleared to the default pass-through variables
plus ``env_vars`` plus the literal ``env`` table; its own process group; on close stdin is
closed, then SIGTERM to the group, SIGKILL after 2 s; the child is always reaped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import Process
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from rootstep.mcp.transports.read_wrapper import MessageStream

log = logging.getLogger(__name__)

TERMINATE_GRACE_S = 2.0
STDIN_CLOSE_GRACE_S = 0.5
MAX_LINE_BYTES = 64 * 1024 * 1024
_ID_RE = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')


def parse_line(line: bytes) -> SessionMessage | Exception:
    """One stdout line → a message, or an error value the session logs and skips.

    A line that is not UTF-8 but carries a response id is turned into a JSON-RPC error
    response for that id, so the request it answers fails now instead of timing out.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        match = _ID_RE.search(line)
        if match and (b'"result"' in line or b'"error"' in line):
            request_id = json.loads(match.group(1))
            error = types.JSONRPCError(
                jsonrpc="2.0",
                id=request_id,
                error=types.ErrorData(
                    code=types.PARSE_ERROR, message=f"MCP server sent a response that is not valid UTF-8: {exc}"
                ),
            )
            return SessionMessage(error)
        return ValueError(f"MCP server wrote a line that is not valid UTF-8: {exc}")
    if '"result"' in text and '"method"' not in text:
        # Most lines are responses: validating against that one shape skips the union's tries.
        try:
            return SessionMessage(types.JSONRPCResponse.model_validate_json(text, by_name=False))
        except ValueError:
            pass  # not a plain response after all: the union below decides (and words the error)
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(text, by_name=False))
    except ValueError as exc:
        return ValueError(f"MCP server wrote an invalid JSON-RPC line: {text[:200]!r}: {exc}")


async def stop_process(process: Process, grace: float = TERMINATE_GRACE_S) -> None:
    """Close stdin, SIGTERM the process group, SIGKILL it after ``grace``; always reap."""
    with anyio.CancelScope(shield=True):
        if process.stdin is not None:
            with suppress(Exception):
                await process.stdin.aclose()
        with anyio.move_on_after(STDIN_CLOSE_GRACE_S):
            await process.wait()
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            with anyio.move_on_after(grace):
                await process.wait()
        # Whatever else is left in the group (grandchildren) goes too.
        _signal_group(process.pid, signal.SIGKILL)
        if process.returncode is None:
            await process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with suppress(Exception):
                    await stream.aclose()


def _signal_group(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _feed_stdout_directly(process: Process) -> None:
    """Deliver the child's stdout chunks to its StreamReader as they are read.

    asyncio's subprocess transport hands every chunk over with ``call_soon`` — one loop turn
    on the way back of every MCP response. The pipe protocol's ``data_received`` is replaced
    by a direct ``feed_data`` (what that deferred callback does); end of file still goes the
    deferred way, after the data. Anything unexpected leaves asyncio's path in place.
    """
    try:
        aio = process._process  # type: ignore[attr-defined]
        transport = aio._transport
        if transport._pending_calls is not None:
            return
        protocol = transport.get_pipe_transport(1).get_protocol()
        reader = aio.stdout
    except AttributeError:
        return
    if reader is None or not hasattr(protocol, "data_received"):
        return

    def data_received(data: bytes) -> None:
        if not getattr(reader, "_eof", False):  # ended by the reader (abort): drop the rest
            reader.feed_data(data)

    protocol.data_received = data_received


class _StdoutReader(MessageStream):
    """The session's read stream: lines of the child's stdout, parsed in the reader's task.

    Why not a pump task feeding a memory stream: the session's own receive loop reads the
    pipe directly, one task hop less on the way back of every tool call. Each line is decoded
    on its own (see :func:`parse_line`); a line over :data:`MAX_LINE_BYTES` ends the stream.
    """

    def __init__(self, stdout: Any, label: str) -> None:
        self._stdout = stdout
        self._label = label
        self._buffer = bytearray()
        self._ready: deque[SessionMessage | Exception] = deque()
        self._ended = False
        self._scope: anyio.CancelScope | None = None

    def abort(self) -> None:
        """End the stream now (the child stopped reading its stdin)."""
        self._ended = True
        # Wake a pending read: end of file on the underlying asyncio reader when there is one
        # (no cancel scope per read on the hot path), else cancel the read.
        feed_eof = getattr(getattr(self._stdout, "_stream", None), "feed_eof", None)
        if feed_eof is not None:
            feed_eof()
        elif self._scope is not None:
            self._scope.cancel()

    async def _read_chunk(self) -> bytes | None:
        """The next chunk of stdout; None at its end (or after :meth:`abort`)."""
        try:
            if getattr(self._stdout, "_stream", None) is not None:
                data: bytes | None = await self._stdout.receive()
                return data
            with anyio.CancelScope() as scope:
                self._scope = scope
                try:
                    received: bytes | None = await self._stdout.receive()
                    return received
                finally:
                    self._scope = None
            return None
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return None

    def _split(self) -> None:
        buffer = self._buffer
        while (nl := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:nl]).rstrip(b"\r")
            del buffer[: nl + 1]
            if line.strip():
                item = parse_line(line)
                if isinstance(item, Exception):
                    log.warning("%s: %s", self._label, item)
                self._ready.append(item)
        if len(buffer) > MAX_LINE_BYTES:
            log.warning("%s: stdout line over %d bytes; closing the connection", self._label, MAX_LINE_BYTES)
            buffer.clear()
            self._ended = True

    async def receive(self) -> SessionMessage | Exception:
        while not self._ready:
            if self._ended:
                raise anyio.EndOfStream
            chunk = await self._read_chunk()
            if chunk is None or self._ended:
                self._ended = True
                continue
            self._buffer += chunk
            self._split()
        return self._ready.popleft()

    async def aclose(self) -> None:
        self._ended = True


class _StdinWriter:
    """The session's write stream: each message is written straight to the child's stdin.

    Why not a memory stream and a pump task: that costs a task switch per request on the
    hot path of every tool call. Writing a whole line is one ``write`` into the pipe
    transport's buffer, so concurrent senders never interleave. A child that stopped
    reading ends the read side too, so nobody waits for an answer forever.
    """

    def __init__(self, process: Process, reader: _StdoutReader) -> None:
        self._process = process
        self._reader = reader
        self._closed = False

    async def send(self, message: SessionMessage) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        stdin = self._process.stdin
        assert stdin is not None
        data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        writer = getattr(stdin, "_stream", None)  # anyio's wrapper adds a loop turn per write
        try:
            if writer is not None and not writer.is_closing():
                writer.write(data)
                await writer.drain()  # returns at once unless the pipe is full
            else:
                await stdin.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, RuntimeError):
            self._reader.abort()
            raise anyio.BrokenResourceError from None

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> _StdinWriter:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


@asynccontextmanager
async def local_stdio_transport(
    command: str,
    args: Iterable[str] = (),
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    label: str = "mcp",
) -> AsyncIterator[TransportStreams]:
    """Spawn ``command`` with exactly ``env`` and yield ``(read_stream, write_stream)``.

    Raises OSError (e.g. command not found) before yielding. The read stream ends when the
    process closes its stdout (crash, exit), which the session turns into "connection closed"
    for every pending request.
    """
    process = await anyio.open_process(
        [command, *args], env=dict(env), cwd=cwd, start_new_session=True,
    )
    assert process.stdout is not None
    _feed_stdout_directly(process)
    read_stream = _StdoutReader(process.stdout, label)

    async def pump_stderr() -> None:
        assert process.stderr is not None
        buffer = bytearray()
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
            async for chunk in process.stderr:
                buffer += chunk
                while (nl := buffer.find(b"\n")) >= 0:
                    log.info("%s stderr: %s", label, buffer[:nl].decode("utf-8", "replace"))
                    del buffer[: nl + 1]
                if len(buffer) > 1024 * 1024:
                    buffer.clear()

    write_stream = _StdinWriter(process, read_stream)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_stderr)
            try:
                yield read_stream, write_stream
            finally:
                await stop_process(process)
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                await stop_process(process)
            for stream in (read_stream, write_stream):
                await stream.aclose()
