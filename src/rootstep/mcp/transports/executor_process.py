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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from rootstep.environments.base import StdioLaunch
from rootstep.environments.env_policy import mcp_env_policy
from rootstep.environments.exec_client import ExecServerClient, ProcessSession
from rootstep.jsonrpc.errors import JsonRpcError
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


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        log.warning("executor MCP server sent an invalid line: %s", exc)
        return exc


@asynccontextmanager
async def executor_process_transport(
    acquire: Callable[[], Awaitable[ExecServerClient]], launch: StdioLaunch, *, process_id: str | None = None
) -> AsyncIterator[TransportStreams]:
    """Start ``launch`` in the executor and yield the SDK's ``(read_stream, write_stream)``."""
    client = await acquire()
    session = await client.start_process(start_params(launch, process_id or next_process_id()))
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

    async def pump_out() -> None:
        stdout, stderr = bytearray(), bytearray()
        async with read_writer:
            try:
                async for event in session.events:
                    if event.kind == "output" and event.stream in ("stdout", "pty"):
                        stdout += event.data
                        while (nl := stdout.find(b"\n")) >= 0:
                            line = bytes(stdout[:nl]).rstrip(b"\r")
                            del stdout[: nl + 1]
                            if line.strip():
                                await read_writer.send(_parse(line))
                        if len(stdout) > MAX_STDOUT_LINE:
                            log.warning("%s: stdout line over %d bytes; closing the transport", session.id, MAX_STDOUT_LINE)
                            return
                    elif event.kind == "output":
                        stderr += event.data
                        while (nl := stderr.find(b"\n")) >= 0:
                            log.info("%s stderr: %s", session.id, stderr[:nl].decode("utf-8", "replace"))
                            del stderr[: nl + 1]
                        if len(stderr) > MAX_STDERR_LINE:
                            stderr.clear()
                    elif event.kind == "failed":
                        log.warning("%s: %s", session.id, event.error)
                if stdout.strip():
                    await read_writer.send(_parse(bytes(stdout)))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    async def pump_in() -> None:
        async with write_reader:
            async for message in write_reader:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                try:
                    status = await session.write(data)
                except JsonRpcError as exc:
                    log.warning("%s: write failed: %s", session.id, exc.message)
                    break
                if status != "accepted":
                    log.warning("%s: write refused: %s", session.id, status)
                    break
        await read_writer.aclose()  # the session must see the end rather than hang

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump_out)
        tg.start_soon(pump_in)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):
                await _terminate(session)
            tg.cancel_scope.cancel()


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
