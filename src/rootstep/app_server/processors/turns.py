"""turn/start, turn/interrupt, turn/steer — serialized per thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.agent_tools.model_family import fallback_warning
from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.app_server.processors.thread_settings import apply_collaboration_mode, emit_settings
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.notifications import Warning
from rootstep.protocol.thread import (
    EmptyResponse,
    EnvironmentSelection,
    ThreadIdParams,
    TurnInterruptParams,
    TurnResponse,
    TurnStartParams,
    TurnSteerParams,
    TurnSteerResponse,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices
    from rootstep.core.thread import Thread

_SANDBOX_TYPES = {
    "dangerFullAccess": "danger-full-access",
    "workspaceWrite": "workspace-write",
    "readOnly": "read-only",
    "externalSandbox": "danger-full-access",
}


def _moved(selections: list[EnvironmentSelection], old: str, new: str) -> list[EnvironmentSelection]:
    return [
        e.model_copy(update={
            "cwd": new,
            "runtime_workspace_roots": [new if r == old else r for r in e.runtime_workspace_roots or []],
        })
        if e.cwd == old else e
        for e in selections
    ]


def _loaded(ctx: RequestContext, thread_id: str) -> Thread:
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
        summary=p.summary, sandbox_mode=sandbox, sandbox_policy=p.sandbox_policy if sandbox else None,
    )
    manager = ctx.server.manager
    if p.environments is not None:
        try:
            manager.set_environments(thread, p.environments)
        except ThreadError as exc:
            raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    elif settings.cwd != thread.settings.cwd and thread.environments:
        # A new cwd moves the environments that were at the old one (their tools run there).
        manager.set_environments(thread, _moved(thread.environments, thread.settings.cwd, settings.cwd))
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
    unknown_model = fallback_warning(settings.model)
    if unknown_model is not None:  # 0.169 says so before every turn of a model it has no metadata for
        await ctx.server.services.clients.emit(Warning(message=unknown_model, thread_id=thread.id))
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


def register(table: MethodTable, services: AppServices) -> None:
    table.add("thread/compact/start", thread_compact_start, ThreadIdParams, scope=thread_scope())
    table.add("turn/start", turn_start, TurnStartParams, scope=thread_scope(),
              experimental_fields=("environments", "collaborationMode"))
    table.add("turn/interrupt", turn_interrupt, TurnInterruptParams, scope=thread_scope())
    # Steer must not queue behind a pending interrupt of the same thread; it only appends.
    table.add("turn/steer", turn_steer, TurnSteerParams)

