"""The ``apply_patch`` tool as a step calls it: checks, approval, items, writes, output text.

:func:`run_apply_patch` is the whole call. The thread gives it a :class:`PatchToolContext`:
the environment and cwd the patch resolves against, the approval policy and the sandbox's
writable roots, a ``notify`` for ``item/*`` and ``turn/diff/updated`` notifications, an
``ask`` for the ``item/fileChange/requestApproval`` server request, the turn's
:class:`~rootstep.agent_tools.turn_diff.TurnDiffTracker` and the thread's set of paths the user
approved for the session. It returns the text for the model's ``custom_tool_call_output`` (or
``function_call_output``) and whether the user asked to stop the turn (``cancel``).

Messages are 0.169's: ``apply_patch verification failed: <why>`` (parse or context errors,
nothing written, no item), ``patch rejected: <reason>`` (empty patch, or outside the writable
roots under ``never``), ``patch rejected by user`` (declined), ``Exit code: N\\nWall time: S
seconds\\nOutput:\\n<text>`` after a write attempt.
"""

from __future__ import annotations

import math
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rootstep.agent_tools.apply_patch.applier import PatchWriteError, commit_plan, verify_patch
from rootstep.agent_tools.apply_patch.parser import PatchParseError
from rootstep.agent_tools.apply_patch.planner import PatchPlan, PatchVerificationError
from rootstep.agent_tools.apply_patch.shell import IMPLICIT_INVOCATION, ImplicitPatch, ShellPatch
from rootstep.agent_tools.file_changes import file_change_approval_params, file_change_item
from rootstep.agent_tools.specs import tool_spec
from rootstep.agent_tools.turn_diff import TurnDiffTracker
from rootstep.environments.base import Environment

REJECTED_OUTSIDE_PROJECT = "writing outside of the project; rejected by user approval settings"
REJECTED_READ_ONLY = "writing is blocked by read-only sandbox; rejected by user approval settings"
REJECTED_BY_USER = "patch rejected by user"


def apply_patch_tool(*, include_environment_id: bool = False) -> dict[str, Any]:
    """The freeform (custom, lark grammar) tool 0.169 gives models whose catalog entry has
    ``apply_patch_tool_type = freeform``; with several environments the grammar accepts an
    ``*** Environment ID:`` line."""
    spec = tool_spec("apply_patch")
    if include_environment_id:
        spec["format"]["definition"] = spec["format"]["definition"].replace(
            "start: begin_patch hunk+ end_patch",
            'start: begin_patch environment_id? hunk+ end_patch\nenvironment_id: "*** Environment ID: " filename LF',
        )
    return spec


def verification_failed(error: Exception) -> str:
    return f"apply_patch verification failed: {error}"


def exec_output(exit_code: int, wall_seconds: float, text: str) -> str:
    return f"Exit code: {exit_code}\nWall time: {tenths(wall_seconds)} seconds\nOutput:\n{text}"


def tenths(seconds: float) -> str:
    """Seconds rounded to a tenth, written as 0.169 writes the number (``0``, ``0.3``, ``12``)."""
    text = repr(math.floor(seconds * 10 + 0.5) / 10)
    return text[:-2] if text.endswith(".0") else text


def intercepted_output(inner: str, wall_seconds: float = 0.0) -> str:
    """A patch that came as an ``exec_command``: 0.169 wraps the result in the exec format."""
    return f"Wall time: {wall_seconds:.4f} seconds\nOutput:\n{inner}"


# --- safety ---------------------------------------------------------------------------------


def _normalize(path: str) -> str:
    return posixpath.normpath(path)


def _under(path: str, root: str) -> bool:
    root = _normalize(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def can_write(path: str, roots: Sequence[Any]) -> bool:
    """Inside a writable root and not under one of its read-only carve-outs.

    A root is a path, or an object with ``root`` and ``read_only_subpaths`` (the sandbox
    policy's ``WritableRoot``: ``.git``, ``.codex``… under a workspace root stay read-only).
    """
    path = _normalize(path)
    for entry in roots:
        root = entry if isinstance(entry, str) else entry.root
        protected = () if isinstance(entry, str) else tuple(getattr(entry, "read_only_subpaths", ()))
        if _under(path, root) and not any(_under(path, sub) for sub in protected):
            return True
    return False


def assess_patch_safety(plan: PatchPlan, approval_policy: str, writable_roots: Sequence[Any] | None) -> str:
    """``"auto"``, ``"ask"`` or ``"reject:<reason>"`` (0.169's decision for a patch).

    ``writable_roots`` (paths or ``WritableRoot``-like objects, see :func:`can_write`): None
    means full write access; ``()`` a read-only sandbox. ``untrusted`` always asks; ``never``
    rejects what the roots do not cover; ``on-request``/``on-failure`` ask for it.
    """
    if plan.is_empty:
        return "reject:empty patch"
    if approval_policy == "untrusted":
        return "ask"
    paths = [c.path for c in plan.changes] + [c.move_path for c in plan.changes if c.move_path]
    constrained = writable_roots is None or all(can_write(p, writable_roots) for p in paths)
    if constrained:
        return "auto"
    if approval_policy == "never":
        read_only = writable_roots is not None and not writable_roots
        return "reject:" + (REJECTED_READ_ONLY if read_only else REJECTED_OUTSIDE_PROJECT)
    return "ask"


# --- one call -------------------------------------------------------------------------------

Notify = Callable[[str, dict[str, Any]], Awaitable[None]]
Ask = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass
class PatchToolContext:
    environment: Environment
    environment_id: str
    cwd: str
    thread_id: str
    turn_id: str
    approval_policy: str  # never | on-request | on-failure | untrusted
    writable_roots: Sequence[Any] | None  # paths or WritableRoot-like; None: full write access
    notify: Notify
    ask: Ask
    turn_diff: TurnDiffTracker
    session_approved_paths: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PatchCallResult:
    output: str
    interrupt_turn: bool = False
    plan: PatchPlan | None = None


def _now_ms() -> int:
    return int(time.time() * 1000)


async def run_apply_patch(
    ctx: PatchToolContext, call_id: str, patch_text: str, *, cwd: str | None = None
) -> PatchCallResult:
    """Run one ``apply_patch`` call (the item id is the call id)."""
    cwd = cwd or ctx.cwd
    started = time.monotonic()
    try:
        plan = await verify_patch(ctx.environment, patch_text, cwd)
    except (PatchParseError, PatchVerificationError) as exc:
        return PatchCallResult(verification_failed(exc))
    decision = assess_patch_safety(plan, ctx.approval_policy, ctx.writable_roots)
    if decision == "ask" and all(c.path in ctx.session_approved_paths for c in plan.changes):
        decision = "auto"
    if decision.startswith("reject:"):
        return PatchCallResult(f"patch rejected: {decision[len('reject:'):]}")
    started_ms = _now_ms()
    in_progress = file_change_item(call_id, plan, "inProgress", started_at_ms=started_ms)
    await ctx.notify("item/started", _item_params(ctx, in_progress))
    if decision == "ask":
        answer = await ctx.ask("item/fileChange/requestApproval", file_change_approval_params(
            thread_id=ctx.thread_id, turn_id=ctx.turn_id, item_id=call_id, started_at_ms=_now_ms()))
        choice = answer.get("decision") if isinstance(answer, dict) else None
        if choice == "cancel":
            return PatchCallResult(REJECTED_BY_USER, interrupt_turn=True, plan=plan)
        if choice not in ("accept", "acceptForSession"):
            await ctx.notify("item/completed", _item_params(ctx, file_change_item(
                call_id, plan, "declined", started_at_ms=started_ms, completed_at_ms=_now_ms())))
            return PatchCallResult(REJECTED_BY_USER, plan=plan)
        if choice == "acceptForSession":
            ctx.session_approved_paths.update(c.path for c in plan.changes)
        started = time.monotonic()  # 0.169's wall time is the write's, not the user's pause
    try:
        await commit_plan(ctx.environment, plan)
    except PatchWriteError as exc:
        if not exc.rolled_back:
            ctx.turn_diff.invalidate()
        await ctx.notify("item/completed", _item_params(ctx, file_change_item(
            call_id, plan, "failed", started_at_ms=started_ms, completed_at_ms=_now_ms())))
        return PatchCallResult(exec_output(1, time.monotonic() - started, f"{exc}\n"), plan=plan)
    await ctx.notify("item/completed", _item_params(ctx, file_change_item(
        call_id, plan, "completed", started_at_ms=started_ms, completed_at_ms=_now_ms())))
    ctx.turn_diff.track(ctx.environment_id, plan.changes)
    diff = ctx.turn_diff.unified_diff()
    if diff is not None:
        await ctx.notify("turn/diff/updated", {"threadId": ctx.thread_id, "turnId": ctx.turn_id, "diff": diff})
    return PatchCallResult(exec_output(0, time.monotonic() - started, plan.summary()), plan=plan)


async def run_shell_patch(ctx: PatchToolContext, call_id: str, found: ShellPatch | ImplicitPatch) -> PatchCallResult:
    """A patch recognised in an ``exec_command`` (:func:`.shell.detect_in_exec_command`)."""
    if isinstance(found, ImplicitPatch):
        return PatchCallResult(f"apply_patch verification failed: {IMPLICIT_INVOCATION}")
    cwd = posixpath.join(ctx.cwd, found.workdir) if found.workdir else ctx.cwd
    result = await run_apply_patch(ctx, call_id, found.text, cwd=cwd)
    if result.output.startswith("Exit code: "):
        return PatchCallResult(intercepted_output(result.output), result.interrupt_turn, result.plan)
    return result


def _item_params(ctx: PatchToolContext, item: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"item": item, "threadId": ctx.thread_id, "turnId": ctx.turn_id}
    if item["status"] == "inProgress":
        params["startedAtMs"] = item["startedAtMs"]
    else:
        params["contentTokenCount"] = None
        params["completedAtMs"] = item["completedAtMs"]
    return params
