"""The unified-exec session manager: runs ``exec_command``, keeps long-running commands as
sessions the model polls or writes to with ``write_stdin``, and kills them all when closed.

One manager per thread, entered as an async context manager (it owns the tasks that pump each
session's output). Everything about the thread comes in an :class:`ExecContext` per call, and
everything the client should hear goes out through :class:`ExecEvents` — the manager knows
nothing of the turn loop or the app-server.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from rootstep.agent_tools.unified_exec.approval import (
    RETRY_REASON,
    ApprovalPolicy,
    parse_decision,
    plan_exec,
    request_approval_params,
)
from rootstep.agent_tools.unified_exec.args import ArgumentError, parse_exec_command, parse_write_stdin
from rootstep.agent_tools.unified_exec.buffer import HeadTailBuffer
from rootstep.agent_tools.unified_exec.command_actions import command_actions, resolved_in
from rootstep.agent_tools.unified_exec.items import command_execution_item, create_process_failure, output_delta_params
from rootstep.agent_tools.unified_exec.output import (
    DEFAULT_TRUNCATION_BYTES,
    ExecOutput,
    approx_tokens_from_bytes,
    generate_chunk_id,
)
from rootstep.agent_tools.unified_exec.rules import PrefixRules, append_allow_rule
from rootstep.agent_tools.unified_exec.shell_words import join as shlex_join
from rootstep.environments.processes import ProcessFailed, ProcessHandle, ProcessSpec, ProcessStartError, StdinClosed
from rootstep.sandbox.bwrap import SandboxUnavailable
from rootstep.sandbox.denial import is_likely_sandbox_denied

MIN_YIELD_MS = 250
MAX_YIELD_MS = 30_000
MIN_EMPTY_YIELD_MS = 5_000
MAX_BACKGROUND_YIELD_MS = 300_000
MAX_SESSIONS = 64
WRITE_SETTLE_S = 0.1
EXIT_OUTPUT_GRACE_S = 0.05
# How long a new process may take to exit before its item is announced: a sandboxed command
# that dies of a denial within it is reported to the model only (no item), or retried. 0.169
# waits 150 ms; a slow machine (or a test that must not depend on its load) may say otherwise.
EARLY_EXIT_GRACE_ENV = "ROOTSTEP_EXEC_EARLY_EXIT_GRACE_MS"


def early_exit_grace_s(environ: Any = os.environ) -> float:
    raw = str(environ.get(EARLY_EXIT_GRACE_ENV, "")).strip()
    return int(raw) / 1000 if raw.isdigit() else 0.15
INTERRUPT = "\x03"
UNIFIED_EXEC_ENV = {
    "NO_COLOR": "1", "TERM": "dumb", "LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8", "LC_ALL": "C.UTF-8",
    "COLORTERM": "", "PAGER": "cat", "GIT_PAGER": "cat", "GH_PAGER": "cat", "CODEX_CI": "1",
}


def clamp_exec_yield(ms: int) -> int:
    return min(max(ms, MIN_YIELD_MS), MAX_YIELD_MS)


def clamp_write_yield(ms: int, *, empty: bool, max_background_ms: int = MAX_BACKGROUND_YIELD_MS) -> int:
    ms = max(ms, MIN_YIELD_MS)
    if empty:
        return min(max(ms, MIN_EMPTY_YIELD_MS), max(max_background_ms, MIN_EMPTY_YIELD_MS))
    return min(ms, MAX_YIELD_MS)


class ExecEvents(Protocol):
    """Where the manager reports to the thread (the lead's router supplies it)."""

    async def item_started(self, item: dict[str, Any]) -> None: ...

    async def item_completed(self, item: dict[str, Any]) -> None: ...

    async def output_delta(self, params: dict[str, Any]) -> None:
        """``item/commandExecution/outputDelta`` params."""
        ...

    async def request_approval(self, params: dict[str, Any]) -> Any:
        """Send ``item/commandExecution/requestApproval``; the client's result (``{"decision":
        ...}``), or None when no client can answer (declines)."""
        ...

    async def terminal_interaction(self, params: dict[str, Any]) -> None:
        """``item/commandExecution/terminalInteraction`` params (what ``write_stdin`` typed)."""
        ...


@dataclass
class ExecContext:
    """The thread's facts for one call."""

    environment: Any  # an Environment with start_process (LocalEnvironment / RemoteEnvironment)
    environment_id: str
    cwd: str
    thread_id: str
    turn_id: str
    sandbox_policy: Any
    approval_policy: ApprovalPolicy
    shell: str = "/bin/bash"
    allow_login_shell: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra variables (CODEX_THREAD_ID, …)
    rules: PrefixRules = field(default_factory=PrefixRules)
    codex_home: str | None = None  # where approved amendments are persisted
    truncation_tokens: int = DEFAULT_TRUNCATION_BYTES // 4
    # Whether a sandboxed process that dies at once is checked for a sandbox denial (0.169
    # checks the processes it sandboxes itself, not an executor's).
    detect_denials: bool = True


@dataclass(frozen=True)
class SessionInfo:
    """A running session as ``thread/backgroundTerminals/list`` shows it."""

    session_id: int
    item_id: str
    command: str  # as the model wrote it
    cwd: str
    os_pid: int | None


@dataclass
class _Call:
    """One ``exec_command`` call: what it runs and whether its item has started."""

    call_id: str
    command: list[str]
    display: str
    cwd: str
    actions: list[dict[str, Any]]
    tty: bool
    started_ms: int
    item_started: bool = False

    def item(self, *, process_id: str | None, source: str) -> dict[str, Any]:
        return command_execution_item(item_id=self.call_id, command=self.display, cwd=self.cwd, process_id=process_id,
                                      source=source, status="inProgress", command_actions=self.actions,  # type: ignore[arg-type]
                                      started_at_ms=self.started_ms)


class _Session:
    def __init__(
        self, session_id: int, handle: ProcessHandle, *, item: dict[str, Any], ctx: ExecContext, started: float
    ) -> None:
        self.id = session_id
        self.handle = handle
        self.item = item
        self.ctx = ctx
        self.started = started
        self.pending = HeadTailBuffer()  # not yet returned to the model
        self.transcript = HeadTailBuffer()  # everything, for aggregatedOutput
        self.changed = anyio.Event()
        self.closed = False  # output streams ended
        self.exit_code: int | None = None
        self.failure: str | None = None
        self.denied = False  # exited at once, refused by the sandbox
        self.killed = False  # we ended it: 0.169 reports exit code -1
        self.completed = anyio.Event()  # item/completed sent (or the session stays silent)
        self.decided = anyio.Event()  # announced, or silenced
        self.announced = False  # item/started is out: output streams as deltas, the end is reported
        self.events: ExecEvents | None = None
        self.lock = anyio.Lock()
        self.tty = False
        self.script = ""  # the command as the model wrote it
        self.cwd = ""

    def announce(self) -> None:
        self.announced = True
        self.decided.set()

    def silence(self) -> None:
        """The session is not reported (a sandbox denial the model hears about instead)."""
        self.decided.set()

    def wake(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


class UnifiedExecManager:
    def __init__(
        self, *, max_sessions: int = MAX_SESSIONS, max_background_yield_ms: int = MAX_BACKGROUND_YIELD_MS
    ) -> None:
        self.max_sessions = max_sessions
        self.max_background_yield_ms = max_background_yield_ms
        self._sessions: dict[int, _Session] = {}
        self._tg: TaskGroup | None = None
        self._session_approvals: set[tuple[str, ...]] = set()
        self._rng = random.Random()
        self.early_exit_grace_s = early_exit_grace_s()

    async def __aenter__(self) -> UnifiedExecManager:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close_all()
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(*exc)

    # --- sessions -------------------------------------------------------------------------

    @property
    def session_ids(self) -> list[int]:
        return sorted(self._sessions)

    def sessions(self) -> list[SessionInfo]:
        """The running sessions (``thread/backgroundTerminals/list``), oldest first."""
        return [
            SessionInfo(s.id, s.item["id"], s.script, s.cwd, s.handle.pid)
            for s in sorted(self._sessions.values(), key=lambda s: s.started) if not s.closed
        ]

    def _allocate_id(self) -> int:
        while True:
            candidate = self._rng.randrange(1_000, 100_000)
            if candidate not in self._sessions:
                return candidate

    async def terminate(self, session_id: int) -> bool:
        """Kill one session's process tree; its item completes before this returns."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        await self._kill([session])
        return True

    async def close_all(self) -> None:
        """Kill every session's process tree (turn interrupted, thread unloaded, shutdown); their
        items complete before this returns."""
        sessions, self._sessions = list(self._sessions.values()), {}
        await self._kill(sessions)

    async def _kill(self, sessions: list[_Session]) -> None:
        with anyio.CancelScope(shield=True):
            for session in sessions:
                session.killed = True
                await session.handle.aclose()
            for session in sessions:
                if not session.announced:
                    session.silence()
                with anyio.move_on_after(5):
                    await session.completed.wait()

    # --- exec_command ---------------------------------------------------------------------

    async def exec_command(self, ctx: ExecContext, call_id: str, arguments: str, events: ExecEvents) -> str:
        """Run one ``exec_command`` call; returns the ``function_call_output`` text."""
        try:
            args = parse_exec_command(arguments)
        except ArgumentError as exc:
            return str(exc)
        if args.login and not ctx.allow_login_shell:
            return "login shell is disabled by config; omit `login` or set it to false."
        login = ctx.allow_login_shell if args.login is None else args.login
        shell = args.shell or ctx.shell
        command = [shell, "-lc" if login else "-c", args.cmd]
        cwd = os.path.normpath(os.path.join(ctx.cwd, args.workdir)) if args.workdir else ctx.cwd
        call = _Call(call_id=call_id, command=command, display=shlex_join(command), cwd=cwd,
                     actions=resolved_in(command_actions(command), cwd), tty=args.tty,
                     started_ms=int(time.time() * 1000))
        plan = plan_exec(
            command, approval=ctx.approval_policy, sandbox_policy=ctx.sandbox_policy,
            require_escalated=args.require_escalated, prefix_rule=args.prefix_rule, rules=ctx.rules,
            approved_for_session=tuple(command) in self._session_approvals,
        )
        if plan.action == "reject":
            return plan.reason or "rejected"
        if plan.action == "ask":
            reason = args.justification if args.require_escalated else plan.reason
            if not await self._ask(ctx, events, call, reason, plan.proposed_amendment):
                await self._declined(events, call)
                return create_process_failure("rejected by user")
        yield_ms = clamp_exec_yield(args.yield_time_ms)
        started = await self._spawn(ctx, call, sandboxed=plan.sandboxed)
        if isinstance(started, str):
            return started
        if started.denied and plan.retry_without_sandbox:
            if plan.retry_needs_approval and not await self._ask(ctx, events, call, RETRY_REASON, None):
                await self._declined(events, call)
                return self._finish_silently(started, ctx, args.max_output_tokens)
            await self._discard(started)
            started = await self._spawn(ctx, call, sandboxed=False)
            if isinstance(started, str):
                return started
        if started.denied:
            # 0.169 tells the model and nobody else: no item for a command the sandbox refused.
            return self._finish_silently(started, ctx, args.max_output_tokens)
        output = await self._run_announced(started, events, call, yield_ms)
        return output_with(output, args.max_output_tokens, ctx).text()

    async def _ask(self, ctx: ExecContext, events: ExecEvents, call: _Call, reason: str | None,
                   amendment: tuple[str, ...] | None) -> bool:
        """The approval prompt (its ``agent`` item starts first, once per call)."""
        if not call.item_started:
            call.item_started = True
            await events.item_started(call.item(process_id=None, source="agent"))
        params = request_approval_params(
            thread_id=ctx.thread_id, turn_id=ctx.turn_id, item_id=call.call_id, started_at_ms=call.started_ms,
            environment_id=ctx.environment_id, command=call.display, cwd=call.cwd, command_actions=call.actions,
            reason=reason, amendment=amendment,
        )
        outcome = parse_decision(await events.request_approval(params))
        if outcome.for_session:
            self._session_approvals.add(tuple(call.command))
        if outcome.amendment and ctx.codex_home:
            append_allow_rule(ctx.codex_home, outcome.amendment)
            ctx.rules = ctx.rules.with_rule(outcome.amendment, "allow")
        if outcome.interrupt_turn:
            # 0.169 completes the item (declined) before the turn ends interrupted.
            await self._declined(events, call)
            raise TurnCancelled()
        return outcome.approved

    @staticmethod
    async def _declined(events: ExecEvents, call: _Call) -> None:
        done = {
            **call.item(process_id=None, source="agent"), "status": "declined", "completedAtMs": int(time.time() * 1000)
        }
        await events.item_completed(done)

    async def _spawn(self, ctx: ExecContext, call: _Call, *, sandboxed: bool) -> _Session | str:
        """Start the process and give it the early-exit grace to fail; a string is the
        model's output for a process that could not start."""
        if len(self._sessions) >= self.max_sessions:
            await self._prune()
        session_id = self._allocate_id()
        spec = ProcessSpec(
            argv=call.command, cwd=call.cwd, env={**UNIFIED_EXEC_ENV, **ctx.env}, tty=call.tty,
            sandbox=ctx.sandbox_policy if sandboxed else None, sandbox_cwd=ctx.cwd,
        )
        try:
            handle = await ctx.environment.start_process(spec, f"{session_id}-{call.call_id}")
        except (ProcessStartError, SandboxUnavailable, ProcessFailed) as exc:
            text = exc.strerror if isinstance(exc, ProcessStartError) and exc.strerror else exc
            return create_process_failure(f"Failed to create unified exec process: {text}")
        session = _Session(session_id, handle, item=call.item(process_id=str(session_id), source="unifiedExecStartup"),
                           ctx=ctx, started=time.monotonic())
        session.tty, session.script, session.cwd = call.tty, call.command[-1], call.cwd
        self._sessions[session_id] = session
        assert self._tg is not None, "UnifiedExecManager must be entered (async with) before use"
        self._tg.start_soon(self._pump, session)
        await self._collect(session, time.monotonic() + self.early_exit_grace_s)
        if session.closed and handle.sandboxed and ctx.detect_denials:
            text = session.transcript.to_bytes().decode("utf-8", "replace")
            exit_code = session.exit_code if session.exit_code is not None else -1
            session.denied = is_likely_sandbox_denied(sandboxed=True, exit_code=exit_code, output=text)
        return session

    async def _discard(self, session: _Session) -> None:
        self._sessions.pop(session.id, None)
        session.silence()
        await session.handle.aclose()

    def _finish_silently(self, session: _Session, ctx: ExecContext, max_output_tokens: int | None) -> str:
        self._sessions.pop(session.id, None)
        session.silence()
        output = self._snapshot(session, 0.0)
        return output_with(output, max_output_tokens, ctx).text()

    async def _run_announced(self, session: _Session, events: ExecEvents, call: _Call, yield_ms: int) -> ExecOutput:
        """Announce the session (its item starts unless the approval prompt started it) and wait
        for its output until the yield deadline or its end."""
        session.events = events
        if not call.item_started:
            call.item_started = True
            await events.item_started(session.item)
        session.announce()
        start = time.monotonic()
        await self._collect(session, start + yield_ms / 1000)
        output = self._snapshot(session, time.monotonic() - start)
        await self._ended(session)
        return output

    @staticmethod
    async def _ended(session: _Session) -> None:
        """A session that ended during the call reports its item before the call returns."""
        if session.closed:
            with anyio.CancelScope(shield=True):
                await session.completed.wait()

    async def _pump(self, session: _Session) -> None:
        """Owner of one session: buffers output, streams deltas once announced, reports the end."""
        ctx = session.ctx
        decoder_tail = b""
        try:
            while True:
                chunk = await session.handle.read()
                if chunk is None:
                    break
                session.pending.push(chunk.data)
                session.transcript.push(chunk.data)
                if session.announced and session.events is not None:
                    text, decoder_tail = _decode_prefix(decoder_tail + chunk.data)
                    if text:
                        await session.events.output_delta(output_delta_params(
                            thread_id=ctx.thread_id, turn_id=ctx.turn_id, item_id=session.item["id"], delta=text))
                session.wake()
            session.exit_code = await session.handle.wait()
        except ProcessFailed as exc:
            session.failure = str(exc)
        finally:
            if session.killed:
                session.exit_code = -1
            session.closed = True
            session.wake()
        try:
            await session.decided.wait()
            if not session.announced or session.events is None:
                return
            duration = int((time.monotonic() - session.started) * 1000)
            status = "completed" if session.exit_code == 0 else "failed"
            aggregated = session.transcript.to_bytes().decode("utf-8", "replace")
            done = {**session.item, "status": status, "aggregatedOutput": aggregated or None,
                    "exitCode": session.exit_code, "durationMs": duration, "completedAtMs": int(time.time() * 1000)}
            with anyio.CancelScope(shield=True):
                await session.events.item_completed(done)
        finally:
            session.completed.set()

    async def _collect(self, session: _Session, deadline: float) -> None:
        """Wait until the deadline or the end of the session's output."""
        while not session.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with anyio.move_on_after(remaining):
                await session.changed.wait()

    def _snapshot(self, session: _Session, wall: float) -> ExecOutput:
        taken = session.pending.drain()
        exited = session.closed
        if exited:
            self._sessions.pop(session.id, None)
        return ExecOutput(
            chunk_id=generate_chunk_id(self._rng), wall_time_s=wall, output=taken.to_bytes(),
            exit_code=session.exit_code if exited else None, session_id=None if exited else session.id,
            original_token_count=approx_tokens_from_bytes(taken.total_bytes), omitted_bytes=taken.omitted,
        )

    async def _prune(self) -> None:
        """At the session limit: drop exited sessions first, else the oldest one."""
        if not self._sessions:
            return
        victim = min(self._sessions.values(), key=lambda s: (not s.closed, s.started))
        await self.terminate(victim.id)

    # --- write_stdin ----------------------------------------------------------------------

    async def write_stdin(self, ctx: ExecContext, call_id: str, arguments: str, events: ExecEvents) -> str:
        """Run one ``write_stdin`` call; returns the ``function_call_output`` text."""
        try:
            args = parse_write_stdin(arguments)
        except ArgumentError as exc:
            return str(exc)
        session = self._sessions.get(args.session_id)
        if session is None:
            return f"write_stdin failed: Unknown process id {args.session_id}"
        async with session.lock:
            if args.chars:
                if not session.tty:
                    if args.chars == INTERRUPT:
                        await session.handle.interrupt()
                    else:
                        return (
                            "write_stdin failed: stdin is closed for this session; "
                            "rerun exec_command with tty=true to keep stdin open"
                        )
                else:
                    try:
                        await session.handle.write(args.chars.encode())
                        await anyio.sleep(WRITE_SETTLE_S)
                    except StdinClosed:
                        pass
            yield_ms = clamp_write_yield(
                args.yield_time_ms, empty=not args.chars, max_background_ms=self.max_background_yield_ms
            )
            start = time.monotonic()
            await self._collect(session, start + yield_ms / 1000)
            output = self._snapshot(session, time.monotonic() - start)
            await self._ended(session)
        if args.chars:
            await events.terminal_interaction({
                "threadId": ctx.thread_id, "turnId": ctx.turn_id, "itemId": session.item["id"],
                "processId": str(session.id), "stdin": args.chars,
            })
        return output_with(output, args.max_output_tokens, ctx).text()


class TurnCancelled(Exception):
    """The user answered ``cancel``: the caller interrupts the turn."""


def output_with(output: ExecOutput, max_output_tokens: int | None, ctx: ExecContext) -> ExecOutput:
    from dataclasses import replace

    return replace(output, max_output_tokens=max_output_tokens, truncation_tokens=ctx.truncation_tokens)


def _decode_prefix(data: bytes) -> tuple[str, bytes]:
    """Decode what is complete UTF-8; keep a cut-off trailing sequence for the next chunk."""
    for cut in range(4):
        end = len(data) - cut
        try:
            return data[:end].decode("utf-8"), data[end:]
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace"), b""
