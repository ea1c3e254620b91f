"""Thread goals: the store ``thread/goal/get|set|clear`` and the model's goal tools share.

A thread has at most one goal ``{threadId, objective, status, tokenBudget, tokensUsed,
timeUsedSeconds, createdAt, updatedAt}`` (times in Unix seconds; status ``active | paused |
blocked | usageLimited | budgetLimited | complete``). Every change is announced as
``thread/goal/updated`` (``turnId`` null when the client made it) and a clear as
``thread/goal/cleared``. The tools answer JSON ``{goal, remainingTokens,
completionBudgetReport}`` (compact, as 0.169).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from rootstep.agent_tools.arguments import ArgumentsError, Field, Struct, parse_arguments
from rootstep.agent_tools.specs import tool_spec

STATUSES = ("active", "paused", "blocked", "usageLimited", "budgetLimited", "complete")
MAX_OBJECTIVE_CHARS = 4_000
NO_GOAL = "cannot update goal because this thread has no goal"
UNFINISHED = "cannot create a new goal because this thread has an unfinished goal; complete the existing goal first"
UPDATE_STATUS_ONLY = (
    "update_goal can only mark the existing goal complete, blocked, or paused at the user's explicit request; "
    "resume, budget-limited, and usage-limited status changes are controlled by the user or system"
)
BUDGET_POSITIVE = "goal budgets must be positive when provided"
COMPLETION_REPORT = (
    "Goal achieved. Report final usage from this tool result's structured goal fields. If `goal.tokenBudget` is "
    "present, include token usage from `goal.tokensUsed` and `goal.tokenBudget`. If `goal.timeUsedSeconds` is "
    "greater than 0, summarize elapsed time in a concise, human-friendly form appropriate to the response language."
)

CREATE_ARGS = Struct((Field("objective", "string"), Field("token_budget", "integer", required=False)))
UPDATE_ARGS = Struct((Field("status", "enum", variants=("complete", "blocked", "paused")),))
GET_ARGS = Struct(())


class GoalError(ValueError):
    """An invalid request; ``str()`` is the reference's message."""


@dataclass(frozen=True)
class Goal:
    threadId: str
    objective: str
    status: str
    tokenBudget: int | None
    tokensUsed: int
    timeUsedSeconds: int
    createdAt: int
    updatedAt: int

    def wire(self) -> dict[str, Any]:
        return asdict(self)


def validate_objective(objective: str) -> str:
    objective = objective.strip()
    if not objective:
        raise GoalError("goal objective must not be empty")
    if len(objective) > MAX_OBJECTIVE_CHARS:
        raise GoalError(f"goal objective must be at most {MAX_OBJECTIVE_CHARS} characters")
    return objective


def validate_budget(budget: int | None) -> None:
    if budget is not None and budget <= 0:
        raise GoalError(BUDGET_POSITIVE)


class GoalStore:
    """Goals by thread id. ``on_change`` sees every new goal (``None`` once cleared): the
    thread persists it in its rollout, and :meth:`restore` brings it back on resume."""

    def __init__(self, clock: Any = time.time, on_change: Callable[[str, Goal | None], None] | None = None) -> None:
        self._goals: dict[str, Goal] = {}
        self._clock = clock
        self._on_change = on_change

    def restore(self, thread_id: str, record: Any) -> None:
        """A goal persisted as its wire dict (a malformed record is ignored)."""
        if not isinstance(record, dict) or not record.get("objective"):
            return
        try:
            self._goals[thread_id] = Goal(**{**record, "threadId": thread_id})
        except TypeError:
            return

    def get(self, thread_id: str) -> Goal | None:
        return self._goals.get(thread_id)

    def set(self, thread_id: str, *, objective: str | None = None, status: str | None = None,
            token_budget: int | None = None, token_budget_given: bool = False) -> Goal:
        """``thread/goal/set``: create (objective required) or update the given fields."""
        if status is not None and status not in STATUSES:
            raise GoalError(f"unknown goal status `{status}`")
        if objective is not None:
            objective = validate_objective(objective)
        if objective is not None or token_budget_given:
            validate_budget(token_budget)
        now = int(self._clock())
        existing = self._goals.get(thread_id)
        if existing is None:
            if objective is None:
                raise GoalError(f"cannot update goal for thread {thread_id}: no goal exists")
            goal = Goal(thread_id, objective, status or "active", token_budget, 0, 0, now, now)
        else:
            goal = replace(
                existing,
                objective=objective if objective is not None else existing.objective,
                status=status if status is not None else existing.status,
                tokenBudget=token_budget if token_budget_given else existing.tokenBudget,
                updatedAt=now,
            )
        self._goals[thread_id] = goal
        if self._on_change is not None:
            self._on_change(thread_id, goal)
        return goal

    def clear(self, thread_id: str) -> bool:
        cleared = self._goals.pop(thread_id, None) is not None
        if cleared and self._on_change is not None:
            self._on_change(thread_id, None)
        return cleared


def goal_updated_params(goal: Goal, turn_id: str | None) -> dict[str, Any]:
    return {"threadId": goal.threadId, "turnId": turn_id, "goal": goal.wire()}


def goal_cleared_params(thread_id: str) -> dict[str, Any]:
    return {"threadId": thread_id}


def _response(goal: Goal | None, report: str | None = None) -> str:
    remaining = None
    if goal is not None and goal.tokenBudget is not None:
        remaining = max(goal.tokenBudget - goal.tokensUsed, 0)
    body = {"goal": goal.wire() if goal else None, "remainingTokens": remaining, "completionBudgetReport": report}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def goal_tools() -> list[dict[str, Any]]:
    return [tool_spec("get_goal"), tool_spec("create_goal"), tool_spec("update_goal")]


def handle_goal_tool(store: GoalStore, name: str, arguments: str, *, thread_id: str) -> tuple[str, Goal | None]:
    """(text for the model, the goal to announce with ``thread/goal/updated`` or None)."""
    try:
        if name == "get_goal":
            parse_arguments(arguments or "{}", GET_ARGS)
            return _response(store.get(thread_id)), None
        if name == "create_goal":
            args = parse_arguments(arguments, CREATE_ARGS)
            existing = store.get(thread_id)
            objective = validate_objective(args["objective"])
            validate_budget(args.get("token_budget"))
            if existing is not None and existing.status != "complete":
                return UNFINISHED, None
            store.clear(thread_id)
            goal = store.set(
                thread_id, objective=objective, token_budget=args.get("token_budget"), token_budget_given=True
            )
            return _response(goal), goal
        if name == "update_goal":
            try:
                args = parse_arguments(arguments, UPDATE_ARGS)
            except ArgumentsError as exc:
                if "unknown variant" in str(exc):
                    return UPDATE_STATUS_ONLY, None
                raise
            if store.get(thread_id) is None:
                return NO_GOAL, None
            goal = store.set(thread_id, status=args["status"])
            report = COMPLETION_REPORT if args["status"] == "complete" else None
            return _response(goal, report), goal
    except (ArgumentsError, GoalError) as exc:
        return str(exc), None
    raise KeyError(name)
