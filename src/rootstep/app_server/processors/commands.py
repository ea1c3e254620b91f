"""Commands a client runs directly: ``command/exec`` (+ ``write``, ``resize``, ``terminate``),
``thread/shellCommand`` and a thread's background terminals (``thread/backgroundTerminals/list``,
``clean``, ``terminate``), with 0.169's shapes and error texts.

``command/exec`` runs an argv on this machine under the server's sandbox (config.toml's, or the
request's ``sandboxPolicy``), without a thread: buffered (``{exitCode, stdout, stderr}`` when it
exits), or streamed as ``command/exec/outputDelta`` to the asking connection (a client-chosen
``processId`` names it for ``write``/``resize``/``terminate``; it is killed when that connection
goes away). Output is capped per stream (1 MiB unless told otherwise), the run at 10 s (exit code
124) unless told otherwise.

``thread/shellCommand`` is the user's ``!cmd``: answered at once, then run unsandboxed in the
thread's shell as a turn of its own (or inside the running turn), see
:mod:`rootstep.agent_tools.user_shell`. Background terminals are the thread's ``exec_command``
sessions that outlive their call.
"""

from __future__ import annotations

import base64
import binascii
import os
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict

from rootstep.agent_tools.settings import sandbox_policy
from rootstep.agent_tools.source import DEFAULT_SHELL
from rootstep.agent_tools.wire import COMMAND_EXEC_OUTPUT_DELTA
from rootstep.app_server.context import RequestContext, loaded_thread
from rootstep.core.turn import TurnSink
from rootstep.environments.processes import INHERIT_ALL, ProcessFailed, ProcessSpec, ProcessStartError, StdinClosed
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params
from rootstep.sandbox.bwrap import SandboxUnavailable
from rootstep.sandbox.policy import SandboxPolicyError, parse_sandbox_policy

if TYPE_CHECKING:
    from rootstep.app_server.connection import Connection
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices

DEFAULT_OUTPUT_BYTES_CAP = 1024 * 1024
DEFAULT_TIMEOUT_MS = 10_000
TIMEOUT_EXIT_CODE = 124
IO_DRAIN_S = 2.0


class Empty(BaseModel):
    """``{}``."""

    model_config = ConfigDict(extra="forbid")


# --- params ---------------------------------------------------------------------------------


class TerminalSize(Params):
    rows: int
    cols: int


class CommandExecParams(Params):
    command: list[str]
    process_id: str | None = None
    tty: bool = False
    stream_stdin: bool = False
    stream_stdout_stderr: bool = False
    output_bytes_cap: int | None = None
    disable_output_cap: bool = False
    disable_timeout: bool = False
    timeout_ms: int | None = None
    cwd: str | None = None
    env: dict[str, str | None] | None = None
    size: TerminalSize | None = None
    sandbox_policy: dict[str, Any] | None = None
    permission_profile: str | None = None


class CommandExecWriteParams(Params):
    process_id: str
    delta_base64: str | None = None
    close_stdin: bool = False


class CommandExecResizeParams(Params):
    process_id: str
    size: TerminalSize


class CommandExecTerminateParams(Params):
    process_id: str


class ThreadShellCommandParams(Params):
    thread_id: str
    command: str
    timeout_ms: int | None = None


class BackgroundTerminalsListParams(Params):
    thread_id: str
    cursor: str | None = None
    limit: int | None = None


class BackgroundTerminalsCleanParams(Params):
    thread_id: str


class BackgroundTerminalsTerminateParams(Params):
    thread_id: str
    process_id: str


def _invalid(message: str) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, message)


def _bad_params(message: str) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS, message)


def _quoted(process_id: str) -> str:
    """A client process id as 0.169 shows it in errors (a JSON string)."""
    import json

    return json.dumps(process_id)


# --- command/exec ---------------------------------------------------------------------------


@dataclass
class _Exec:
    handle: Any
    stream_stdin: bool
    tty: bool


@dataclass
class CommandExecs:
    """The running ``command/exec`` processes with a client id, per connection."""

    by_connection: weakref.WeakKeyDictionary[Connection, dict[str, _Exec]] = field(
        default_factory=weakref.WeakKeyDictionary)

    def of(self, connection: Connection) -> dict[str, _Exec]:
        return self.by_connection.setdefault(connection, {})

    def get(self, connection: Connection, process_id: str) -> _Exec:
        running = self.of(connection).get(process_id)
        if running is None:
            raise _invalid(f"no active command/exec for process id {_quoted(process_id)}")
        return running


def _check(p: CommandExecParams) -> None:
    if not p.command:
        raise _invalid("command must not be empty")
    if p.sandbox_policy is not None and p.permission_profile is not None:
        raise _invalid("`permissionProfile` cannot be combined with `sandboxPolicy`")
    if p.size is not None and not p.tty:
        raise _bad_params("command/exec size requires tty: true")
    if p.disable_output_cap and p.output_bytes_cap is not None:
        raise _bad_params("command/exec cannot set both outputBytesCap and disableOutputCap")
    if p.disable_timeout and p.timeout_ms is not None:
        raise _bad_params("command/exec cannot set both timeoutMs and disableTimeout")
    if p.timeout_ms is not None and p.timeout_ms < 0:
        raise _bad_params(f"command/exec timeoutMs must be non-negative, got {p.timeout_ms}")
    if p.permission_profile is not None:
        raise _invalid(f"invalid permission profile: unknown permission profile `{p.permission_profile}`")
    if p.process_id is None and (p.tty or p.stream_stdin or p.stream_stdout_stderr):
        raise _invalid("command/exec tty or streaming requires a client-supplied processId")
    if p.size is not None and (p.size.rows <= 0 or p.size.cols <= 0):
        raise _bad_params("command/exec size rows and cols must be greater than 0")


def _policy(ctx: RequestContext, p: CommandExecParams) -> Any:
    config = ctx.server.config
    if p.sandbox_policy is not None:
        try:
            return parse_sandbox_policy(p.sandbox_policy)
        except SandboxPolicyError as exc:
            raise _invalid(f"invalid sandbox policy: {exc}") from None
    return sandbox_policy(config.sandbox_mode, None, config.raw)


async def command_exec(ctx: RequestContext, p: CommandExecParams, execs: CommandExecs) -> dict[str, Any]:
    _check(p)
    local = ctx.server.services.environments.get("local")
    if local is None:
        raise JsonRpcError(INTERNAL_ERROR, "local environment is not configured")
    server_cwd = os.getcwd()
    cwd = os.path.normpath(os.path.join(server_cwd, p.cwd)) if p.cwd else server_cwd
    policy = _policy(ctx, p)
    unset = [k for k, v in (p.env or {}).items() if v is None]
    env_policy = INHERIT_ALL.model_copy(update={"exclude": unset}) if unset else INHERIT_ALL
    spec = ProcessSpec(
        argv=p.command, cwd=cwd, env={k: v for k, v in (p.env or {}).items() if v is not None}, env_policy=env_policy,
        tty=p.tty, pipe_stdin=p.stream_stdin and not p.tty,
        sandbox=policy if policy.type in ("readOnly", "workspaceWrite") else None,
        sandbox_cwd=server_cwd, size=(p.size.rows, p.size.cols) if p.size is not None else (24, 80),
    )
    running = execs.of(ctx.connection)
    if p.process_id is not None and p.process_id in running:
        raise _invalid(f"duplicate active command/exec process id: {_quoted(p.process_id)}")
    try:
        handle = await local.start_process(spec)
    except (ProcessStartError, SandboxUnavailable, ProcessFailed) as exc:
        raise JsonRpcError(INTERNAL_ERROR, f"failed to spawn command: {exc}") from None
    if p.process_id is not None:
        running[p.process_id] = _Exec(handle, stream_stdin=p.stream_stdin or p.tty, tty=p.tty)
    try:
        return await _run(ctx.connection, p, handle)
    finally:
        if p.process_id is not None:
            running.pop(p.process_id, None)
        with anyio.CancelScope(shield=True):
            await handle.aclose()


async def _run(connection: Connection, p: CommandExecParams, handle: Any) -> dict[str, Any]:
    stream = p.stream_stdout_stderr or p.tty
    cap = None if p.disable_output_cap else (
        p.output_bytes_cap if p.output_bytes_cap is not None else DEFAULT_OUTPUT_BYTES_CAP
    )
    buffers = {"stdout": bytearray(), "stderr": bytearray()}
    seen = {"stdout": 0, "stderr": 0}
    timed_out = False

    async def pump() -> None:
        while (chunk := await handle.read()) is not None:
            name = "stderr" if chunk.stream == "stderr" else "stdout"
            data = chunk.data
            if cap is not None:
                if seen[name] >= cap:
                    continue
                data = data[: cap - seen[name]]
            seen[name] += len(data)
            if stream:
                await connection.notify(COMMAND_EXEC_OUTPUT_DELTA, {
                    "processId": p.process_id, "stream": name, "deltaBase64": base64.b64encode(data).decode(),
                    "capReached": cap is not None and seen[name] == cap,
                })
            else:
                buffers[name] += data

    timeout = None if p.disable_timeout else (p.timeout_ms if p.timeout_ms is not None else DEFAULT_TIMEOUT_MS) / 1000
    drained = anyio.Event()

    async def drain() -> None:
        try:
            await pump()
        finally:
            drained.set()

    async with anyio.create_task_group() as group:
        group.start_soon(drain)
        with anyio.move_on_after(timeout) as timer:
            exit_code = await handle.wait()
        if timer.cancelled_caught:
            timed_out = True
            await handle.terminate()
            exit_code = await handle.wait()
        with anyio.move_on_after(IO_DRAIN_S):  # what a lingering grandchild still writes
            await drained.wait()
        group.cancel_scope.cancel()
    return {
        "exitCode": TIMEOUT_EXIT_CODE if timed_out else exit_code,
        "stdout": bytes(buffers["stdout"]).decode("utf-8", "replace"),
        "stderr": bytes(buffers["stderr"]).decode("utf-8", "replace"),
    }


async def command_exec_write(ctx: RequestContext, p: CommandExecWriteParams, execs: CommandExecs) -> dict[str, Any]:
    if p.delta_base64 is None and not p.close_stdin:
        raise _bad_params("command/exec/write requires deltaBase64 or closeStdin")
    try:
        data = base64.b64decode(p.delta_base64 or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_params(f"invalid deltaBase64: {exc}") from None
    running = execs.get(ctx.connection, p.process_id)
    if not running.stream_stdin:
        raise _invalid("stdin streaming is not enabled for this command/exec")
    try:
        if data:
            await running.handle.write(data)
        if p.close_stdin and hasattr(running.handle, "close_stdin"):
            await running.handle.close_stdin()
    except StdinClosed:
        raise _invalid("stdin is already closed") from None
    return {}


async def command_exec_resize(ctx: RequestContext, p: CommandExecResizeParams, execs: CommandExecs) -> dict[str, Any]:
    if p.size.rows <= 0 or p.size.cols <= 0:
        raise _bad_params("command/exec size rows and cols must be greater than 0")
    running = execs.get(ctx.connection, p.process_id)
    try:
        await running.handle.resize(p.size.rows, p.size.cols)
    except OSError as exc:
        raise _invalid(f"failed to resize PTY: {exc.strerror or exc}") from None
    return {}


async def command_exec_terminate(
    ctx: RequestContext, p: CommandExecTerminateParams, execs: CommandExecs
) -> dict[str, Any]:
    running = execs.get(ctx.connection, p.process_id)
    await running.handle.terminate()
    return {}


# --- thread/shellCommand --------------------------------------------------------------------


async def thread_shell_command(ctx: RequestContext, p: ThreadShellCommandParams) -> None:
    thread = loaded_thread(ctx, p.thread_id)
    if not p.command.strip():
        raise _invalid("command must not be empty")
    if p.timeout_ms is not None and p.timeout_ms < 0:
        raise _bad_params(f"timeoutMs must be non-negative, got {p.timeout_ms}")
    local = next((s for s in thread.environment_selections if s.environment_id == "local"), None)
    environment = ctx.server.services.environments.get("local") if local is not None else None
    if local is None or environment is None:
        raise _invalid("shell is unavailable in this session")
    agent = ctx.server.services.agent_tools.for_thread(thread.id)
    shell = await agent.shell_path("local", environment) if agent is not None else DEFAULT_SHELL
    timeout_s = p.timeout_ms / 1000 if p.timeout_ms is not None else 60 * 60
    ctx.connection.subscriptions.add(thread.id)

    from rootstep.agent_tools.user_shell import record_item, run_user_shell

    async def body(sink: Any, append_history: Any) -> None:
        turn_id = thread.active.turn.id if thread.active is not None else ""
        result = await run_user_shell(
            environment=environment, cwd=local.cwd, shell=shell, command=p.command, thread_id=thread.id,
            turn_id=turn_id, items=sink, notify=ctx.server.services.clients.emit, timeout_s=timeout_s,
        )
        append_history(record_item(p.command, result))

    manager = ctx.server.manager
    await ctx.respond(Empty())
    if thread.active is None:
        manager.start_turn(thread, [], body=body)
        manager.launch(thread, [])
        return
    # A turn is running: the command runs inside it (no second turn/started).
    active = thread.active

    def append(item: dict[str, Any]) -> None:
        thread.history.append(item)
        thread.record("response_item", item)

    ctx.server.services.background.start_soon(body_in_turn, body, TurnSink(thread, active), append)


async def body_in_turn(body: Any, sink: TurnSink, append: Any) -> None:
    await body(sink, append)


# --- background terminals -------------------------------------------------------------------


def _rust_i32(text: str) -> int:
    """``str::parse::<i32>`` with its error texts."""
    digits = text[1:] if text[:1] in "+-" else text
    if not text or not digits:
        raise ValueError("cannot parse integer from empty string" if not text else "invalid digit found in string")
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("invalid digit found in string")
    value = int(text)
    if value > 2**31 - 1:
        raise ValueError("number too large to fit in target type")
    if value < -(2**31):
        raise ValueError("number too small to fit in target type")
    return value


async def background_list(ctx: RequestContext, p: BackgroundTerminalsListParams) -> dict[str, Any]:
    thread = loaded_thread(ctx, p.thread_id)
    agent = ctx.server.services.agent_tools.for_thread(thread.id)
    manager = agent.exec.running if agent is not None else None
    sessions = list(reversed(manager.sessions())) if manager is not None else []
    entries = [{"itemId": s.item_id, "processId": str(s.session_id), "command": s.command, "cwd": s.cwd,
                "osPid": None, "cpuPercent": None, "rssKb": None} for s in sessions]
    if p.cursor is not None:
        ids = [e["processId"] for e in entries]
        entries = entries[ids.index(p.cursor) + 1:] if p.cursor in ids else []
    limit = p.limit if p.limit else len(entries)
    page = entries[:limit]
    more = len(entries) > limit
    return {"data": page, "nextCursor": page[-1]["processId"] if more and page else None}


async def background_clean(ctx: RequestContext, p: BackgroundTerminalsCleanParams) -> None:
    thread = loaded_thread(ctx, p.thread_id)
    agent = ctx.server.services.agent_tools.for_thread(thread.id)
    await ctx.respond(Empty())
    manager = agent.exec.running if agent is not None else None
    if manager is not None:
        await manager.close_all()


async def background_terminate(ctx: RequestContext, p: BackgroundTerminalsTerminateParams) -> None:
    thread = loaded_thread(ctx, p.thread_id)
    try:
        session_id = _rust_i32(p.process_id)
    except ValueError as exc:
        raise _invalid(f"invalid background terminal process id: {exc}") from None
    agent = ctx.server.services.agent_tools.for_thread(thread.id)
    manager = agent.exec.running if agent is not None else None
    known = manager is not None and session_id in manager.session_ids
    await ctx.respond({"terminated": known})
    if known and manager is not None:
        await manager.terminate(session_id)


def register(table: MethodTable, services: AppServices) -> None:
    execs = CommandExecs()

    def with_execs(handler: Any) -> Any:
        async def bound(ctx: RequestContext, params: Any) -> Any:
            return await handler(ctx, params, execs)

        bound.__name__ = handler.__name__
        return bound

    table.add("command/exec", with_execs(command_exec), CommandExecParams)
    table.add("command/exec/write", with_execs(command_exec_write), CommandExecWriteParams)
    table.add("command/exec/resize", with_execs(command_exec_resize), CommandExecResizeParams)
    table.add("command/exec/terminate", with_execs(command_exec_terminate), CommandExecTerminateParams)
    table.add("thread/shellCommand", thread_shell_command, ThreadShellCommandParams)
    table.add("thread/backgroundTerminals/list", background_list, BackgroundTerminalsListParams, experimental=True)
    table.add("thread/backgroundTerminals/clean", background_clean, BackgroundTerminalsCleanParams, experimental=True)
    table.add("thread/backgroundTerminals/terminate", background_terminate, BackgroundTerminalsTerminateParams,
              experimental=True)
