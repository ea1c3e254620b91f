"""thread/goal/* params, results and notifications."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rootstep.protocol.base import Params, WireModel

GoalStatus = Literal["active", "paused", "blocked", "usageLimited", "budgetLimited", "complete"]


class ThreadGoalSetParams(Params):
    thread_id: str
    objective: str | None = None
    status: GoalStatus | None = None
    token_budget: int | None = None
    origin: Any = None


class ThreadGoalIdParams(Params):
    thread_id: str


class ThreadGoalResponse(WireModel):
    goal: dict[str, Any] | None = None


class ThreadGoalClearResponse(WireModel):
    cleared: bool


class ThreadGoalUpdated(WireModel):
    METHOD: ClassVar[str] = "thread/goal/updated"
    thread_id: str
    turn_id: str | None = None
    goal: dict[str, Any]


class ThreadGoalCleared(WireModel):
    METHOD: ClassVar[str] = "thread/goal/cleared"
    thread_id: str
