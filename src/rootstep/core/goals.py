"""A thread's goal: an objective the user set, with a status and an optional token budget.

The goal lives on the loaded :class:`~rootstep.core.thread.Thread` (``thread.goal``, the wire
``ThreadGoal`` dict) and is persisted in the rollout as a ``settings`` record ``{"goal": ...}``
(``None`` once cleared), so ``thread/resume`` restores it. The decisions are pure functions;
the app-server's ``thread/goal/*`` methods and, later, the model's goal tools apply them.
"""

from __future__ import annotations

import time
from typing import Any

GOAL_STATUSES = ("active", "paused", "blocked", "usageLimited", "budgetLimited", "complete")
MAX_OBJECTIVE_CHARS = 4000


class GoalError(ValueError):
    """A goal change that is refused; the message is the client's to read."""


def updated_goal(
    current: dict[str, Any] | None,
    *,
    thread_id: str,
    objective: str | None = None,
    status: str | None = None,
    token_budget: int | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """The goal after a ``thread/goal/set`` (codex 0.169's rules). Pure.

    A new objective creates the goal (``active`` unless a status is given) or replaces the
    objective of the current one; without an objective there must already be a goal.
    """
    now = int(time.time()) if now is None else now
    if token_budget is not None and token_budget <= 0:
        raise GoalError("goal budgets must be positive when provided")
    if objective is not None:
        objective = objective.strip()
        if not objective:
            raise GoalError("goal objective must not be empty")
        if len(objective) > MAX_OBJECTIVE_CHARS:
            raise GoalError(f"goal objective must be at most {MAX_OBJECTIVE_CHARS} characters")
    if current is None:
        if objective is None:
            raise GoalError(f"cannot update goal for thread {thread_id}: no goal exists")
        return {
            "threadId": thread_id, "objective": objective, "status": status or "active",
            "tokenBudget": token_budget, "tokensUsed": 0, "timeUsedSeconds": 0,
            "createdAt": now, "updatedAt": now,
        }
    goal = dict(current)
    if objective is not None:
        goal["objective"] = objective
    if status is not None:
        goal["status"] = status
    if token_budget is not None:
        goal["tokenBudget"] = token_budget
    return goal


def restored_goal(meta: dict[str, Any]) -> dict[str, Any] | None:
    goal = meta.get("goal")
    return goal if isinstance(goal, dict) and goal.get("objective") else None
