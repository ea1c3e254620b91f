"""turn/start, turn/interrupt, turn/steer — serialized per thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.thread import (
    EmptyResponse,
    ThreadIdParams,
    TurnInterruptParams,
    TurnResponse,
    TurnStartParams,
    TurnSteerParams,
    TurnSteerResponse,
)

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer
    from rootstep.core.thread import Thread

_SANDBOX_TYPES = {
    "dangerFullAccess": "danger-full-access",
    "workspaceWrite": "workspace-write",
    "readOnly": "read-only",
    "externalSandbox": "danger-full-access",
}


def _loaded(ctx: RequestContext, thread_id: str) -> "Thread":
    try:
        return ctx.server.manager.loaded(thread_id)
    except ThreadError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None


async def turn_start(ctx: RequestContext, p: TurnStartParams) -> None:
    thread = _loaded(ctx, p.thread_id)
    ctx.connection.subscriptions.add(thread.id)  # whoever runs a turn follows its events
    if thread.active is not None:
        # Input for a thread that is mid-turn joins the running turn (like turn/steer).
        thread.active.steer_queue.append(list(p.input))
        await ctx.respond(TurnResponse(turn=thread.active.turn.model_copy(update={"items": []})))
        return
    sandbox = None
    if isinstance(p.sandbox_policy, dict):
        sandbox = _SANDBOX_TYPES.get(str(p.sandbox_policy.get("type")))
    settings = thread.settings.evolve(
        model=p.model, cwd=p.cwd, approval_policy=p.approval_policy, effort=p.effort,
        summary=p.summary, sandbox_mode=sandbox,
    )
    manager = ctx.server.manager
    if p.environments is not None:
        try:
            manager.set_environments(thread, p.environments)
        except ThreadError as exc:
            raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    from rootstep.app_server.processors.thread_settings import apply_collaboration_mode, emit_settings

    mode_settings = apply_collaboration_mode(thread, p.collaboration_mode)
    if p.effort is None and mode_settings.get("reasoning_effort"):
        settings = settings.evolve(effort=mode_settings["reasoning_effort"])
    turn = manager.start_turn(
        thread, list(p.input), settings=settings,
        client_user_message_id=p.client_user_message_id, output_schema=p.output_schema,
    )
    if any(v is not None for v in (p.model, p.cwd, p.approval_policy, p.effort, p.summary, p.sandbox_policy,
                                   p.collaboration_mode)):
        # As codex 0.169: a turn that carries settings reports the thread's settings first.
        await emit_settings(ctx.server, thread)
    await ctx.respond(TurnResponse(turn=turn.model_copy(update={"items": []})))
    manager.launch(thread, list(p.input))


async def turn_interrupt(ctx: RequestContext, p: TurnInterruptParams) -> None:
    thread = _loaded(ctx, p.thread_id)
    active = thread.active
    if active is None:
        raise JsonRpcError(INVALID_REQUEST, "no active turn to interrupt")
    if p.turn_id and active.turn.id != p.turn_id:
        raise JsonRpcError(INVALID_REQUEST, f"expected active turn id {p.turn_id} but found {active.turn.id}")
    # The response is deferred until the turn has stopped; it precedes turn/completed.
    active.interrupt_requested = True
    active.before_completed.append(lambda: ctx.respond(EmptyResponse()))
    active.scope.cancel()
    await active.done.wait()
    await ctx.respond(EmptyResponse())


async def turn_steer(ctx: RequestContext, p: TurnSteerParams) -> TurnSteerResponse:
    thread = _loaded(ctx, p.thread_id)
    active = thread.active
    if active is None:
        raise JsonRpcError(INVALID_REQUEST, "no active turn to steer")
    if active.turn.id != p.expected_turn_id:
        raise JsonRpcError(
            INVALID_REQUEST, f"expected active turn id {p.expected_turn_id} but found {active.turn.id}"
        )
    if not p.input:
        raise JsonRpcError(INVALID_REQUEST, "input must not be empty")
    active.steer_queue.append(list(p.input))
    if active.sample_scope is not None:
        # Re-sample now with the new input (the streamed part so far stays in history).
        active.sample_scope.cancel()
    return TurnSteerResponse(turn_id=active.turn.id)


async def thread_compact_start(ctx: RequestContext, p: ThreadIdParams) -> None:
    """Compaction runs as a turn of its own (turn/started, contextCompaction item, turn/completed)."""
    thread = _loaded(ctx, p.thread_id)
    if thread.active is not None:
        raise JsonRpcError(INVALID_REQUEST, f"thread {thread.id} has an active turn; compact after it completes")
    manager = ctx.server.manager
    manager.start_turn(thread, [], compact=True)
    await ctx.respond(EmptyResponse())
    manager.launch(thread, [])


def register(server: "AppServer") -> None:
    table = server.methods
    table.add("thread/compact/start", thread_compact_start, ThreadIdParams, scope=thread_scope())
    table.add("turn/start", turn_start, TurnStartParams, scope=thread_scope(),
              experimental_fields=("environments", "collaborationMode"))
    table.add("turn/interrupt", turn_interrupt, TurnInterruptParams, scope=thread_scope())
    # Steer must not queue behind a pending interrupt of the same thread; it only appends.
    table.add("turn/steer", turn_steer, TurnSteerParams)

