"""An MCP SDK transport over a process running inside an executor (spec exec-server §4.3).

MCP framing stays here, in the orchestrator: each outgoing message is one JSON line sent
with ``process/write``; stdout chunks from ``process/output`` are split into lines, each line
one incoming message. stderr is only logged. The read side ends (EOF for the session) when
the process is ``closed`` or the executor link fails; leaving the context terminates the
process.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from rootstep.environments.base import StdioLaunch
from rootstep.environments.env_policy import mcp_env_policy
from rootstep.environments.exec_client import ExecServerClient, ProcessEvent, ProcessSession
from rootstep.jsonrpc.errors import JsonRpcError
from rootstep.mcp.transports.local_stdio import parse_line
from rootstep.mcp.transports.read_wrapper import MessageStream
from rootstep.protocol.exec_server import ProcessStartParams, path_to_uri

log = logging.getLogger(__name__)

MAX_STDOUT_LINE = 8 * 1024 * 1024
MAX_STDERR_LINE = 1024 * 1024
TERMINATE_GRACE_S = 2.0
_process_ids = itertools.count(1)


def next_process_id() -> str:
    """``mcp-stdio-<n>``, one counter per orchestrator, like the reference."""
    return f"mcp-stdio-{next(_process_ids)}"


def start_params(launch: StdioLaunch, process_id: str) -> ProcessStartParams:
    if not launch.cwd:
        raise ValueError(f"stdio MCP server `{launch.command}` needs a cwd to run in an executor")
    return ProcessStartParams(
        process_id=process_id,
        argv=[launch.command, *launch.args],
        cwd=launch.cwd if launch.cwd.startswith("file:") else path_to_uri(launch.cwd),
        env=dict(launch.env),
        env_policy=mcp_env_policy(launch.remote_env_vars),
        tty=False,
        pipe_stdin=True,
        arg0=None,
        sandbox=None,
        enforce_managed_network=False,
        managed_network=None,
    )


class _OutputReader(MessageStream):
    """The session's read stream: stdout lines of the executor process, parsed in the reader's task.

    The session's own receive loop takes the ``process/output`` events straight from the
    process handle (no pump task and memory stream in between: one task hop less on the way back
    of every tool call). Each stdout line is decoded and parsed on its own
    (:func:`~rootstep.mcp.transports.local_stdio.parse_line`); stderr lines are logged.
    """

    def __init__(self, session: ProcessSession) -> None:
        self._session = session
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._ready: deque[SessionMessage | Exception] = deque()
        self._ended = False

    def _take(self, event: ProcessEvent) -> None:
        if event.kind == "output" and event.stream in ("stdout", "pty"):
            self._stdout += event.data
            while (nl := self._stdout.find(b"\n")) >= 0:
                line = bytes(self._stdout[:nl]).rstrip(b"\r")
                del self._stdout[: nl + 1]
                if line.strip():
                    self._ready.append(self._parse(line))
            if len(self._stdout) > MAX_STDOUT_LINE:
                log.warning("%s: stdout line over %d bytes; closing the transport", self._session.id, MAX_STDOUT_LINE)
                self._stdout.clear()
                self._ended = True
        elif event.kind == "output":
            self._stderr += event.data
            while (nl := self._stderr.find(b"\n")) >= 0:
                log.info("%s stderr: %s", self._session.id, self._stderr[:nl].decode("utf-8", "replace"))
                del self._stderr[: nl + 1]
            if len(self._stderr) > MAX_STDERR_LINE:
                self._stderr.clear()
        elif event.kind == "failed":  # the link to the executor is gone, or a write failed
            log.warning("%s: %s", self._session.id, event.error)
            self._ended = True

    def _parse(self, line: bytes) -> SessionMessage | Exception:
        item = parse_line(line)
        if isinstance(item, Exception):
            log.warning("%s: %s", self._session.id, item)
        return item

    async def receive(self) -> SessionMessage | Exception:
        while not self._ready:
            if self._ended:
                raise anyio.EndOfStream
            try:
                event = await self._session.events.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._ended = True
                if self._stdout.strip():  # a last line without its newline
                    self._ready.append(self._parse(bytes(self._stdout)))
                    self._stdout.clear()
                continue
            self._take(event)
        return self._ready.popleft()

    async def aclose(self) -> None:
        self._ended = True


class _InputWriter:
    """The session's write stream: each message is one ``process/write``, sent by its caller.

    A lock keeps the writes in order (each waits for the executor's answer, as the reference
    does); a refused or failed write ends the process's event stream, so the session sees the
    end instead of waiting for an answer forever.
    """

    def __init__(self, session: ProcessSession) -> None:
        self._session = session
        self._lock = anyio.Lock(fast_acquire=True)
        self._closed = False

    async def send(self, message: SessionMessage) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        async with self._lock:
            try:
                status = await self._session.write(data)
            except JsonRpcError as exc:
                self._fail(f"write failed: {exc.message}")
            else:
                if status != "accepted":
                    self._fail(f"write refused: {status}")

    def _fail(self, reason: str) -> None:
        log.warning("%s: %s", self._session.id, reason)
        self._closed = True
        self._session.abandon(reason)
        raise anyio.BrokenResourceError(reason)

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> _InputWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@asynccontextmanager
async def executor_process_transport(
    acquire: Callable[[], Awaitable[ExecServerClient]], launch: StdioLaunch, *, process_id: str | None = None
) -> AsyncIterator[TransportStreams]:
    """Start ``launch`` in the executor and yield the SDK's ``(read_stream, write_stream)``."""
    client = await acquire()
    session = await client.start_process(start_params(launch, process_id or next_process_id()))
    try:
        yield _OutputReader(session), _InputWriter(session)
    finally:
        with anyio.CancelScope(shield=True):
            await _terminate(session)


async def _terminate(session: ProcessSession) -> None:
    """``process/terminate`` and wait (bounded) for ``closed``; the executor kills the group."""
    if session.finished or session.client.closed:
        return
    try:
        with anyio.move_on_after(TERMINATE_GRACE_S):
            await session.terminate()
            while not session.finished and not session.client.closed:
                await anyio.sleep(0.01)
    except JsonRpcError:
        pass
