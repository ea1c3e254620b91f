"""``AgentTools``: the agent's own tools as one thread's :class:`~rootstep.tools.ToolSource`.

Per step (:meth:`AgentTools.capture`) it offers what the model family gets in 0.169 —
``exec_command``, ``write_stdin``, ``update_plan`` (when enabled), ``request_user_input``,
``apply_patch`` (freeform, catalog models only), ``view_image``, the goal tools — and runs them
in the thread's *primary* environment (its first selected one, at that selection's cwd; the
local machine or an executor), under the thread's approval policy and sandbox. A patch a model
sends as an ``exec_command`` heredoc is applied as a patch, as 0.169 intercepts it.

Per turn (:class:`~rootstep.tools.TurnHooks`) it tells the model what changed about where and
how it works (:mod:`.turn_context`: permissions, ``<environment_context>``, AGENTS.md) before the
turn's input, keeps the turn's diff (``turn/diff/updated`` after each patch and at the end of
each step), and stops every process when the turn is interrupted. Processes outlive a turn
otherwise (the model polls them with ``write_stdin``; clients list them as background
terminals) until the thread unloads.

The processes belong to one :class:`~.unified_exec.UnifiedExecManager` per thread, entered and
left in an owner task of the server's task group (:class:`ExecOwner`).
"""

from __future__ import annotations

import logging
import os
import posixpath
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from rootstep.agent_tools.project_docs import DocsSettings, git_root_and_docs, render_instructions, user_doc
from rootstep.agent_tools.settings import (
    approval_policy,
    offered_tools,
    patch_approval_name,
    sandbox_policy,
    update_plan_enabled,
)
from rootstep.agent_tools.turn_context import (
    EnvironmentFacts,
    TurnContext,
    history_holds_context,
    initial_items,
    local_date_and_timezone,
    update_items,
)
from rootstep.agent_tools.wire import (
    GOAL_UPDATED,
    OUTPUT_DELTA,
    TERMINAL_INTERACTION,
    TURN_DIFF_UPDATED,
    TURN_PLAN_UPDATED,
    notification,
)
from rootstep.sandbox.policy import resolve_permissions
from rootstep.tools import CallContext, FunctionCall, FunctionOutput, ThreadView

if TYPE_CHECKING:
    # The engines (tree-sitter, the patch applier, image decoding…) load at their first use, so a
    # thread/start does not pay for them.
    from rootstep.agent_tools.apply_patch.tool import PatchToolContext
    from rootstep.agent_tools.turn_diff import TurnDiffTracker
    from rootstep.agent_tools.unified_exec import ExecContext, UnifiedExecManager
    from rootstep.agent_tools.unified_exec.rules import PrefixRules

log = logging.getLogger(__name__)

CONTEXT_RECORD = "agent_context"
DEFAULT_SHELL = "/bin/bash"
EXEC_TOOLS = ("exec_command", "write_stdin")
GOAL_TOOLS = ("get_goal", "create_goal", "update_goal")

Ask = Callable[[str, str, dict[str, Any]], Awaitable[Any]]
Emit = Callable[[Any], Awaitable[None]]


class Environments(Protocol):
    """The server's environments as the agent tools need them."""

    def get(self, env_id: str) -> Any: ...

    async def capture(self, env_ids: Sequence[str], *, wait: bool) -> frozenset[str]: ...


class TaskStarter(Protocol):
    """The server's task group (``Background.start``)."""

    async def start(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class AgentToolsWiring:
    """What every thread's agent tools share with the app-server."""

    environments: Environments
    ask: Ask  # a server→client request to the thread's followers (None: nobody answered)
    emit: Emit  # a notification to the thread's audience
    background: TaskStarter
    codex_home: Path


class ExecOwner:
    """One thread's :class:`UnifiedExecManager`, entered and left in one task of the server's
    task group, started at the first command."""

    def __init__(self, background: TaskStarter, name: str) -> None:
        self._background = background
        self._name = name
        self._manager: UnifiedExecManager | None = None
        self._stop = anyio.Event()
        self._done = anyio.Event()
        self._lock = anyio.Lock()
        self._closed = False

    @property
    def running(self) -> UnifiedExecManager | None:
        return self._manager

    async def manager(self) -> UnifiedExecManager:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the thread is closed")
            if self._manager is None:
                await self._background.start(self._own, name=self._name)
            assert self._manager is not None
            return self._manager

    async def _own(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        from rootstep.agent_tools.unified_exec import UnifiedExecManager

        try:
            async with UnifiedExecManager() as manager:
                self._manager = manager
                task_status.started()
                await self._stop.wait()
        finally:
            self._manager = None
            self._done.set()

    async def aclose(self) -> None:
        """Kill every process (their items complete) and end the owner task."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            async with self._lock:
                if self._manager is None and not self._stop.is_set() and not self._done.is_set():
                    self._done.set()
                self._stop.set()
                with anyio.move_on_after(10):
                    await self._done.wait()


class _CallEvents:
    """The manager's events for one call, into the turn (items, notifications) and the clients."""

    def __init__(self, ctx: CallContext, ask: Ask) -> None:
        self._ctx, self._ask = ctx, ask

    async def item_started(self, item: dict[str, Any]) -> None:
        await self._ctx.items.started(item)  # type: ignore[arg-type]

    async def item_completed(self, item: dict[str, Any]) -> None:
        await self._ctx.items.completed(item)  # type: ignore[arg-type]

    async def output_delta(self, params: dict[str, Any]) -> None:
        await self._ctx.notify(notification(OUTPUT_DELTA, params))

    async def terminal_interaction(self, params: dict[str, Any]) -> None:
        await self._ctx.notify(notification(TERMINAL_INTERACTION, params))

    async def request_approval(self, params: dict[str, Any]) -> Any:
        return await self._ask(self._ctx.thread_id, "item/commandExecution/requestApproval", params)


@dataclass(frozen=True)
class _Primary:
    """Where this step's tools run."""

    environment_id: str
    environment: Any
    cwd: str
    shell: str
    count: int  # selected environments


class AgentStep:
    """One step's agent tools (a :class:`~rootstep.tools.StepTools`)."""

    def __init__(
        self, source: AgentTools, tools: list[dict[str, Any]], primary: _Primary | None, turn_id: str | None
    ) -> None:
        self._source = source
        self._tools = tools
        self._names = frozenset(t.get("name") for t in tools)
        self.primary = primary
        self.turn_id = turn_id

    def model_tools(self) -> list[dict[str, Any]]:
        return self._tools

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return []  # the turn's context goes before its input (AgentTools.turn_started)

    def handles(self, call: FunctionCall) -> bool:
        return call.namespace is None and call.name in self._names and (call.name == "apply_patch") == call.custom

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        return await self._source.run(self, call, ctx)

    async def step_finished(self) -> None:
        """0.169 reports the turn's diff so far at the end of every step."""
        await self._source.report_diff(self.turn_id)

    async def aclose(self) -> None:
        return None


class AgentTools:
    """The agent's tools for one thread (a ``ToolSource`` with ``TurnHooks``)."""

    def __init__(self, thread: ThreadView, wiring: AgentToolsWiring, *, stored: Mapping[str, Any] | None = None,
                 on_close: Callable[[], object] | None = None) -> None:
        self.thread = thread
        self._wiring = wiring
        self._on_close = on_close
        self.exec = ExecOwner(wiring.background, name=f"exec {thread.id}")
        snapshot = (stored or {}).get(CONTEXT_RECORD)
        self._told: dict[str, Any] | None = snapshot if isinstance(snapshot, dict) else None
        self._turn_diff: TurnDiffTracker | None = None
        self._diff_turn: str | None = None
        self._approved_paths: set[str] = set()
        self._rules: PrefixRules | None = None
        self._shells: dict[str, str] = {}
        self._closed = False

    @property
    def config_raw(self) -> dict[str, Any]:
        return self.thread.config.raw

    # --- settings -------------------------------------------------------------------------

    def _policy(self) -> Any:
        return sandbox_policy(self.thread.sandbox_mode or "read-only", self.thread.sandbox_policy, self.config_raw)

    def _wait_for_environments(self) -> bool:
        return not self.thread.config.features.enabled("deferred_executor")

    async def shell_path(self, env_id: str, environment: Any) -> str:
        """The environment's shell (its ``environment/info``; ``/bin/bash`` when it cannot say)."""
        shell = self._shells.get(env_id)
        if shell is None:
            try:
                info = await environment.environment_info()
                shell = ((info or {}).get("shell") or {}).get("path") or DEFAULT_SHELL
            except Exception as exc:  # noqa: BLE001 - an executor that cannot say: the default shell
                log.info("environment %s: no shell info (%s)", env_id, exc)
                shell = DEFAULT_SHELL
            self._shells[env_id] = shell
        return shell

    async def _ready(self) -> list[tuple[Any, Any]]:
        """The selected environments that are up (selection, environment), in order."""
        selections = list(self.thread.environment_selections)
        if not selections:
            return []
        ids = [s.environment_id for s in selections]
        ready = await self._wiring.environments.capture(ids, wait=self._wait_for_environments())
        out = []
        for selection in selections:
            environment = (
                self._wiring.environments.get(selection.environment_id) if selection.environment_id in ready else None
            )
            if environment is not None:
                out.append((selection, environment))
        return out

    async def _primary(self) -> _Primary | None:
        selections = list(self.thread.environment_selections)
        ready = await self._ready()
        if not ready or ready[0][0].environment_id != selections[0].environment_id:
            return None
        selection, environment = ready[0]
        shell = await self.shell_path(selection.environment_id, environment)
        return _Primary(selection.environment_id, environment, selection.cwd, shell, len(selections))

    # --- steps (ToolSource) ---------------------------------------------------------------

    async def capture(self) -> AgentStep:
        primary = await self._primary()
        tools = offered_tools(
            self.thread.model, update_plan=update_plan_enabled(self.config_raw), has_environment=primary is not None,
            environments=primary.count if primary is not None else 0,
        )
        return AgentStep(self, tools, primary, self.thread.active_turn_id)

    async def run(self, step: AgentStep, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        name = call.name
        if name in EXEC_TOOLS:
            return await self._exec(step, call, ctx)
        if name == "apply_patch":
            from rootstep.agent_tools.apply_patch.tool import run_apply_patch

            assert step.primary is not None
            result = await run_apply_patch(self._patch_context(step.primary, step.primary.cwd, ctx), call.call_id,
                                           call.arguments)
            if result.interrupt_turn:
                ctx.interrupt()
            return result.output
        if name == "update_plan":
            from rootstep.agent_tools import plan as plan_tool

            text, params = plan_tool.handle_update_plan(call.arguments, thread_id=ctx.thread_id, turn_id=ctx.turn_id,
                                                        plan_mode=self.thread.collaboration_mode == "plan")
            if params is not None:
                await ctx.notify(notification(TURN_PLAN_UPDATED, params))
            return text
        if name == "request_user_input":
            return await self._user_input(call, ctx)
        if name == "view_image":
            assert step.primary is not None
            return await self._view_image(step.primary, call, ctx)
        if name in GOAL_TOOLS:
            from rootstep.agent_tools import goals as goal_tools

            text, goal = goal_tools.handle_goal_tool(self.thread.goals, name, call.arguments, thread_id=ctx.thread_id)
            if goal is not None:
                await ctx.notify(notification(GOAL_UPDATED, goal_tools.goal_updated_params(goal, ctx.turn_id)))
            return text
        raise KeyError(name)

    # --- commands -------------------------------------------------------------------------

    def _exec_context(self, primary: _Primary, ctx: CallContext) -> ExecContext:
        from rootstep.agent_tools.unified_exec import ExecContext
        from rootstep.agent_tools.unified_exec.rules import PrefixRules

        allow_login = self.config_raw.get("allow_login_shell", True)
        return ExecContext(
            environment=primary.environment, environment_id=primary.environment_id, cwd=primary.cwd,
            thread_id=ctx.thread_id, turn_id=ctx.turn_id, sandbox_policy=self._policy(),
            approval_policy=approval_policy(self.thread.approval_policy), shell=primary.shell,
            allow_login_shell=allow_login if isinstance(allow_login, bool) else True,
            env={"CODEX_THREAD_ID": ctx.thread_id}, rules=self._rules or PrefixRules(),
            codex_home=str(self._wiring.codex_home),
            detect_denials=primary.environment_id == "local",
        )

    async def _exec(self, step: AgentStep, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        from rootstep.agent_tools.apply_patch.tool import run_shell_patch
        from rootstep.agent_tools.unified_exec import TurnCancelled

        assert step.primary is not None
        exec_ctx = self._exec_context(step.primary, ctx)
        if call.name == "exec_command":
            patch = self._shell_patch(call.arguments, exec_ctx)
            if patch is not None:
                found, cwd = patch
                result = await run_shell_patch(self._patch_context(step.primary, cwd, ctx), call.call_id, found)
                if result.interrupt_turn:
                    ctx.interrupt()
                return result.output
        try:
            manager = await self.exec.manager()
        except RuntimeError as exc:
            return f"exec_command failed: {exc}"
        events = _CallEvents(ctx, self._wiring.ask)
        try:
            if call.name == "exec_command":
                return await manager.exec_command(exec_ctx, call.call_id, call.arguments, events)
            return await manager.write_stdin(exec_ctx, call.call_id, call.arguments, events)
        except TurnCancelled:
            ctx.interrupt()  # the turn ends now: the model is told the call was aborted
            return "aborted by user"
        finally:
            self._rules = exec_ctx.rules  # an approved amendment holds for the thread's later calls

    @staticmethod
    def _shell_patch(arguments: str, exec_ctx: ExecContext) -> tuple[Any, str] | None:
        """A patch sent as a command (``apply_patch <<'EOF' …``), with the folder it applies in."""
        from rootstep.agent_tools.apply_patch.shell import detect_in_exec_command
        from rootstep.agent_tools.unified_exec.args import ArgumentError, parse_exec_command

        try:
            args = parse_exec_command(arguments)
        except ArgumentError:
            return None
        login = exec_ctx.allow_login_shell if args.login is None else args.login
        found = detect_in_exec_command(args.cmd, args.shell or exec_ctx.shell, login=bool(login))
        if found is None:
            return None
        cwd = posixpath.normpath(posixpath.join(exec_ctx.cwd, args.workdir)) if args.workdir else exec_ctx.cwd
        return found, cwd

    # --- patches --------------------------------------------------------------------------

    def _patch_context(self, primary: _Primary, cwd: str, ctx: CallContext) -> PatchToolContext:
        from rootstep.agent_tools.apply_patch.tool import PatchToolContext

        permissions = resolve_permissions(self._policy(), primary.cwd)
        roots = None if permissions.unrestricted else permissions.writable_roots
        self._diff_for(ctx.turn_id)

        async def notify(method: str, params: dict[str, Any]) -> None:
            if method == "item/started":
                await ctx.items.started(params["item"])
            elif method == "item/completed":
                await ctx.items.completed(params["item"])
            else:
                await ctx.notify(notification(method, params))

        async def ask(method: str, params: dict[str, Any]) -> Any:
            return await self._wiring.ask(ctx.thread_id, method, params)

        return PatchToolContext(
            environment=primary.environment, environment_id=primary.environment_id, cwd=cwd,
            thread_id=ctx.thread_id, turn_id=ctx.turn_id,
            approval_policy=patch_approval_name(approval_policy(self.thread.approval_policy)),
            writable_roots=roots, notify=notify, ask=ask, turn_diff=self._diff_for(ctx.turn_id),
            session_approved_paths=self._approved_paths,
        )

    def _diff_for(self, turn_id: str | None) -> TurnDiffTracker:
        from rootstep.agent_tools.turn_diff import TurnDiffTracker

        if self._turn_diff is None or turn_id != self._diff_turn:
            self._diff_turn = turn_id
            roots = dict(self._turn_diff.display_roots) if self._turn_diff is not None else {}
            self._turn_diff = TurnDiffTracker(display_roots=roots)
        return self._turn_diff

    async def report_diff(self, turn_id: str | None) -> None:
        if turn_id is None or turn_id != self._diff_turn or self._turn_diff is None:
            return
        diff = self._turn_diff.unified_diff()
        if diff is not None:
            await self._wiring.emit(
                notification(TURN_DIFF_UPDATED, {"threadId": self.thread.id, "turnId": turn_id, "diff": diff})
            )

    # --- the other tools ------------------------------------------------------------------

    async def _user_input(self, call: FunctionCall, ctx: CallContext) -> str:
        from rootstep.agent_tools import user_input

        refusal = user_input.unavailable_message(self.thread.collaboration_mode)
        if refusal is not None:
            return refusal
        params, error = user_input.prepare_request(call.arguments, thread_id=ctx.thread_id, turn_id=ctx.turn_id,
                                                   item_id=call.call_id)
        if params is None:
            return error or user_input.CANCELLED
        return user_input.answer_text(await self._wiring.ask(ctx.thread_id, user_input.METHOD, params))

    async def _view_image(self, primary: _Primary, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        from rootstep.agent_tools.view_image import handle_view_image, image_view_item

        started = int(time.time() * 1000)
        result = await handle_view_image(primary.environment, primary.cwd, call.arguments)
        if result.path is not None:
            await ctx.items.started(image_view_item(call.call_id, result.path, started_at_ms=started))  # type: ignore[arg-type]
            await ctx.items.completed(image_view_item(call.call_id, result.path, started_at_ms=started,  # type: ignore[arg-type]
                                                      completed_at_ms=int(time.time() * 1000)))
        return result.output

    # --- turns (TurnHooks) ----------------------------------------------------------------

    async def turn_started(self, turn_id: str, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        ready = await self._ready()
        self._rules, user = await anyio.to_thread.run_sync(self._read_home)
        settings = DocsSettings.from_config(self.config_raw)
        budget = [settings.max_bytes]
        docs: list[Any] = []
        display_roots: dict[str, str] = {}
        for index, (selection, environment) in enumerate(ready):
            root, found = await self._safely(
                git_root_and_docs(environment, selection.environment_id, selection.cwd, settings, budget), (None, []))
            docs += found
            if index == 0:
                display_roots[selection.environment_id] = root or selection.cwd
        self._diff_for(turn_id).display_roots = display_roots
        current = await self._turn_context(ready, user, docs)
        snapshot = current.snapshot()
        if not history_holds_context(history):
            items = initial_items(current)
        else:
            items = update_items(current, self._told)
        if snapshot != self._told:
            self._told = snapshot
            self.thread.record(CONTEXT_RECORD, snapshot)
        return items

    def _read_home(self) -> tuple[PrefixRules, str | None]:
        """The exec-policy rules and the user's own AGENTS.md (blocking: a worker thread)."""
        from rootstep.agent_tools.unified_exec.rules import load_rules

        home = self._wiring.codex_home
        return load_rules([str(home)]), user_doc(home)

    @staticmethod
    async def _safely(work: Awaitable[Any], default: Any) -> Any:
        try:
            return await work
        except Exception as exc:  # noqa: BLE001 - an unreadable environment tells nothing
            log.info("agent context: %s", exc)
            return default

    async def _turn_context(self, ready: list[tuple[Any, Any]], user: str | None, docs: list[Any]) -> TurnContext:
        from rootstep.agent_tools.context import filesystem_xml, permissions_instructions

        raw = self.config_raw
        policy = self._policy()
        selections = list(self.thread.environment_selections)
        primary_cwd = selections[0].cwd if selections else self.thread.cwd
        permissions = None
        if raw.get("include_permissions_instructions", True) is not False:
            permissions = permissions_instructions(policy, approval_policy(self.thread.approval_policy), primary_cwd)
        facts = []
        for selection, environment in ready:
            shell = await self.shell_path(selection.environment_id, environment)
            facts.append(EnvironmentFacts(selection.environment_id, selection.cwd, os.path.basename(shell)))
        today, zone = local_date_and_timezone()
        include_environment = raw.get("include_environment_context", True) is not False
        return TurnContext(
            instructions=render_instructions(user, docs), permissions=permissions, environments=tuple(facts),
            current_date=today, timezone=zone, filesystem=filesystem_xml(policy, primary_cwd) if selections else None,
            include_environment=include_environment,
        )

    async def turn_ended(self, turn_id: str, status: str) -> None:
        manager = self.exec.running
        if status == "interrupted" and manager is not None:
            await manager.close_all()

    async def aclose(self) -> None:
        self._closed = True
        if self._on_close is not None:
            self._on_close()
        await self.exec.aclose()
