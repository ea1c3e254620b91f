"""Newline-delimited framing over an anyio byte stream, with a line-size limit."""

from __future__ import annotations

from anyio import BrokenResourceError, ClosedResourceError, EndOfStream
from anyio.abc import ByteReceiveStream


class LineTooLong(Exception):
    """A line exceeded the limit; it was discarded up to its newline."""

    def __init__(self, size: int) -> None:
        super().__init__(f"line of {size} bytes exceeds the limit")
        self.size = size


class LineReader:
    """Yields lines (without the newline, ``\\r`` stripped); blank lines are skipped.

    A line longer than ``max_line`` raises :class:`LineTooLong` once, after which reading
    resumes at the next line, so a caller that wants to keep serving can.
    """

    def __init__(self, stream: ByteReceiveStream, max_line: int = 64 * 1024 * 1024) -> None:
        self._stream = stream
        self._max = max_line
        self._buf = bytearray()
        self._discarding = 0  # bytes of an over-long line dropped so far
        self._eof = False
        self._scanned = 0  # bytes of _buf already known to hold no newline (keeps big lines O(n))

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> bytes:
        while True:
            nl = self._buf.find(b"\n", self._scanned)
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                self._scanned = 0
                if self._discarding or len(line) > self._max:
                    size = self._discarding + len(line)
                    self._discarding = 0
                    raise LineTooLong(size)
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line.strip():
                    return line
                continue
            self._scanned = len(self._buf)
            if len(self._buf) > self._max:
                self._discarding += len(self._buf)
                self._buf.clear()
                self._scanned = 0
            if self._eof:
                if self._buf.strip() and not self._discarding:
                    line = bytes(self._buf).rstrip(b"\r")
                    self._buf.clear()
                    self._scanned = 0
                    return line
                raise StopAsyncIteration
            try:
                chunk = await self._stream.receive()
            except (EndOfStream, ClosedResourceError, BrokenResourceError):
                self._eof = True
                continue
            self._buf += chunk
