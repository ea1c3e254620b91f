"""This process's own stdin/stdout as anyio byte streams (asyncio backend).

Pipes are read and written without threads through asyncio's pipe transports; anything else
(a terminal, a regular file) falls back to a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream


def _is_pipe_or_socket(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _AsyncioReceive(ByteReceiveStream):
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await self._reader.read(max_bytes)
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        pass


class _ThreadReceive(ByteReceiveStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await anyio.to_thread.run_sync(os.read, self._fd, max_bytes, abandon_on_cancel=True)
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        pass


class _AsyncioSend(ByteSendStream):
    atomic_lines = True  # one write() per line into the transport's buffer: lines never interleave

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, item: bytes) -> None:
        self._writer.write(item)
        await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()


class _ThreadSend(ByteSendStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            n = await anyio.to_thread.run_sync(os.write, self._fd, view)
            view = view[n:]

    async def aclose(self) -> None:
        pass


async def open_stdio() -> tuple[ByteReceiveStream, ByteSendStream]:
    """Return (stdin, stdout) streams. Everything written to stdout goes through the send stream."""
    loop = asyncio.get_running_loop()
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    receive: ByteReceiveStream
    send: ByteSendStream
    if _is_pipe_or_socket(in_fd):
        reader = asyncio.StreamReader(limit=2**31)
        read_pipe = os.fdopen(os.dup(in_fd), "rb", buffering=0)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_pipe)
        receive = _AsyncioReceive(reader)
    else:
        receive = _ThreadReceive(in_fd)
    if _is_pipe_or_socket(out_fd):
        write_pipe = os.fdopen(os.dup(out_fd), "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_pipe)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        send = _AsyncioSend(writer)
    else:
        send = _ThreadSend(out_fd)
    return receive, send


class Replay(ByteReceiveStream):
    """Bytes already read (by a start-up fast path) first, then the real stream."""

    def __init__(self, first: bytes, rest: ByteReceiveStream) -> None:
        self._first = first
        self._rest = rest

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._first:
            chunk, self._first = self._first[:max_bytes], self._first[max_bytes:]
            return chunk
        return await self._rest.receive(max_bytes)

    async def aclose(self) -> None:
        await self._rest.aclose()
