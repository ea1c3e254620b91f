"""thread/goal/get|set|clear and their notifications (``thread/goal/updated|cleared``).

The store is the loaded thread's :class:`~rootstep.agent_tools.goals.GoalStore`, which the
model's goal tools share; the thread persists every change in its rollout. Unlike codex 0.169,
setting a goal does not start a turn by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootstep.agent_tools.goals import GoalError
from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.core.ids import is_uuid
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.goals import (
    ThreadGoalCleared,
    ThreadGoalClearResponse,
    ThreadGoalIdParams,
    ThreadGoalResponse,
    ThreadGoalSetParams,
    ThreadGoalUpdated,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices
    from rootstep.core.thread import Thread


def goal_thread(ctx: RequestContext, thread_id: str) -> Thread:
    if not is_uuid(thread_id):
        raise JsonRpcError(INVALID_REQUEST, f"invalid thread id: {thread_id}")
    thread = ctx.server.manager.threads.get(thread_id)
    if thread is None:
        raise JsonRpcError(INVALID_REQUEST, f"thread not found: {thread_id}")
    if thread.ephemeral:
        raise JsonRpcError(INVALID_REQUEST, f"ephemeral thread does not support goals: {thread_id}")
    return thread


def _wire(thread: Thread) -> dict[str, Any] | None:
    goal = thread.goals.get(thread.id)
    return goal.wire() if goal is not None else None


async def goal_get(ctx: RequestContext, p: ThreadGoalIdParams) -> ThreadGoalResponse:
    thread = goal_thread(ctx, p.thread_id)
    return ThreadGoalResponse(goal=_wire(thread))


async def goal_set(ctx: RequestContext, p: ThreadGoalSetParams) -> None:
    thread = goal_thread(ctx, p.thread_id)
    try:
        goal = thread.goals.set(thread.id, objective=p.objective, status=p.status, token_budget=p.token_budget,
                                token_budget_given="token_budget" in p.model_fields_set).wire()
    except GoalError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    await ctx.respond(ThreadGoalResponse(goal=goal))
    await ctx.server.notify(ThreadGoalUpdated.METHOD, ThreadGoalUpdated(thread_id=thread.id, goal=goal))


async def goal_clear(ctx: RequestContext, p: ThreadGoalIdParams) -> None:
    thread = goal_thread(ctx, p.thread_id)
    cleared = thread.goals.clear(thread.id)
    await ctx.respond(ThreadGoalClearResponse(cleared=cleared))
    if cleared:
        await ctx.server.notify(ThreadGoalCleared.METHOD, ThreadGoalCleared(thread_id=thread.id))


async def announce_goal(server: AppServer, thread: Thread) -> None:
    """After a resume, codex tells the client the thread's goal (or that it has none)."""
    if thread.ephemeral:
        return
    goal = _wire(thread)
    if goal is not None:
        await server.notify(ThreadGoalUpdated.METHOD, ThreadGoalUpdated(thread_id=thread.id, goal=goal))
    else:
        await server.notify(ThreadGoalCleared.METHOD, ThreadGoalCleared(thread_id=thread.id))


def register(table: MethodTable, services: AppServices) -> None:
    table.add("thread/goal/get", goal_get, ThreadGoalIdParams)
    table.add("thread/goal/set", goal_set, ThreadGoalSetParams, scope=thread_scope("goal"))
    table.add("thread/goal/clear", goal_clear, ThreadGoalIdParams, scope=thread_scope("goal"))
