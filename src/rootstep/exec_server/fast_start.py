"""The stdio exec-server's first exchange, answered before the rest of the server is imported.

A stdio executor is spawned on demand and its client waits for the ``initialize`` answer, so
that answer comes from the standard library alone: read the first line, and when it is a
plain ``initialize`` (no ``resumeSessionId``: a stdio session cannot be resumed) write the
result with a fresh session id. Anything else — a bad line, another method, a resume — is
left to the full server, which gets every byte read here and answers it properly. The full
server then continues the same connection with that session (state: waiting for
``initialized``).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

from rootstep.host import environment_info

# The first line is small; a longer one is the full server's business (it has the real cap).
FIRST_LINE_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Handshake:
    """What the fast path did: the session it announced (None if it answered nothing), the
    bytes the full server must read first, and whether stdin already ended."""

    session_id: str | None
    replay: bytes
    eof: bool = False


def _first_line(fd: int) -> tuple[bytes, bool]:
    buffer = b""
    while b"\n" not in buffer and len(buffer) <= FIRST_LINE_LIMIT:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return buffer, True
        if not chunk:
            return buffer, True
        buffer += chunk
    return buffer, False


def handshake(fd_in: int = 0, fd_out: int = 1) -> Handshake:
    """Answer a plain first ``initialize`` on ``fd_out``; never raises on bad input."""
    buffer, eof = _first_line(fd_in)
    line, newline, rest = buffer.partition(b"\n")
    if not newline:
        return Handshake(None, buffer, eof)
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # the full server answers a bad line properly
        return Handshake(None, buffer, eof)
    if not isinstance(message, dict) or message.get("method") != "initialize" or "result" in message:
        return Handshake(None, buffer, eof)
    request_id, params = message.get("id"), message.get("params")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        return Handshake(None, buffer, eof)
    if not isinstance(params, dict) or not isinstance(params.get("clientName"), str):
        return Handshake(None, buffer, eof)
    if params.get("resumeSessionId") is not None:
        return Handshake(None, buffer, eof)
    session_id = str(uuid.uuid4())
    result = {"sessionId": session_id, "environmentInfo": environment_info()}
    data = json.dumps({"id": request_id, "result": result}, separators=(",", ":")).encode() + b"\n"
    while data:
        data = data[os.write(fd_out, data):]
    return Handshake(session_id, rest, eof)
