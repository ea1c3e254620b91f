"""thread/goal/get|set|clear and their notifications (``thread/goal/updated|cleared``).

The goal store is :mod:`rootstep.core.goals` (on the loaded thread, persisted in its rollout).
Unlike codex 0.169, setting a goal does not start a turn by itself: the goal-driven
continuation (and the model's goal tools) belong to the goal engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.core.goals import GoalError, updated_goal
from rootstep.core.ids import is_uuid
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.goals import (
    ThreadGoalClearResponse,
    ThreadGoalCleared,
    ThreadGoalIdParams,
    ThreadGoalResponse,
    ThreadGoalSetParams,
    ThreadGoalUpdated,
)

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer
    from rootstep.core.thread import Thread


def goal_thread(ctx: RequestContext, thread_id: str) -> "Thread":
    if not is_uuid(thread_id):
        raise JsonRpcError(INVALID_REQUEST, f"invalid thread id: {thread_id}")
    thread = ctx.server.manager.threads.get(thread_id)
    if thread is None:
        raise JsonRpcError(INVALID_REQUEST, f"thread not found: {thread_id}")
    if thread.ephemeral:
        raise JsonRpcError(INVALID_REQUEST, f"ephemeral thread does not support goals: {thread_id}")
    return thread


async def goal_get(ctx: RequestContext, p: ThreadGoalIdParams) -> ThreadGoalResponse:
    return ThreadGoalResponse(goal=goal_thread(ctx, p.thread_id).goal)


async def goal_set(ctx: RequestContext, p: ThreadGoalSetParams) -> None:
    thread = goal_thread(ctx, p.thread_id)
    try:
        goal = updated_goal(thread.goal, thread_id=thread.id, objective=p.objective, status=p.status,
                            token_budget=p.token_budget)
    except GoalError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    thread.goal = goal
    thread.record("settings", {"goal": goal})
    await ctx.respond(ThreadGoalResponse(goal=goal))
    await ctx.server.notify(ThreadGoalUpdated.METHOD, ThreadGoalUpdated(thread_id=thread.id, goal=goal))


async def goal_clear(ctx: RequestContext, p: ThreadGoalIdParams) -> None:
    thread = goal_thread(ctx, p.thread_id)
    cleared = thread.goal is not None
    if cleared:
        thread.goal = None
        thread.record("settings", {"goal": None})
    await ctx.respond(ThreadGoalClearResponse(cleared=cleared))
    if cleared:
        await ctx.server.notify(ThreadGoalCleared.METHOD, ThreadGoalCleared(thread_id=thread.id))


async def announce_goal(server: "AppServer", thread: "Thread") -> None:
    """After a resume, codex tells the client the thread's goal (or that it has none)."""
    if thread.ephemeral:
        return
    if thread.goal is not None:
        await server.notify(ThreadGoalUpdated.METHOD, ThreadGoalUpdated(thread_id=thread.id, goal=thread.goal))
    else:
        await server.notify(ThreadGoalCleared.METHOD, ThreadGoalCleared(thread_id=thread.id))


def register(server: "AppServer") -> None:
    table = server.methods
    table.add("thread/goal/get", goal_get, ThreadGoalIdParams)
    table.add("thread/goal/set", goal_set, ThreadGoalSetParams, scope=thread_scope("goal"))
    table.add("thread/goal/clear", goal_clear, ThreadGoalIdParams, scope=thread_scope("goal"))
