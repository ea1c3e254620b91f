"""The agent tools' notifications as the app-server sends them.

The engines shape their params as 0.169 does (camelCase dicts, its key order); this module only
gives each method a notification class (a ``METHOD`` and the thread it is about), so they travel
through the same ``emit`` as core's notifications.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from pydantic import BaseModel, model_serializer

OUTPUT_DELTA = "item/commandExecution/outputDelta"
TERMINAL_INTERACTION = "item/commandExecution/terminalInteraction"
TURN_DIFF_UPDATED = "turn/diff/updated"
TURN_PLAN_UPDATED = "turn/plan/updated"
GOAL_UPDATED = "thread/goal/updated"
GOAL_CLEARED = "thread/goal/cleared"
COMMAND_EXEC_OUTPUT_DELTA = "command/exec/outputDelta"


class ParamsNotification(BaseModel):
    """A notification whose params are already in wire form."""

    METHOD: ClassVar[str] = ""
    params: dict[str, Any]

    @model_serializer(mode="plain")
    def _as_params(self) -> dict[str, Any]:
        return self.params

    @property
    def thread_id(self) -> Any:
        return self.params.get("threadId")


@functools.cache
def _kind(method: str) -> type[ParamsNotification]:
    name = "".join(part[:1].upper() + part[1:] for part in method.replace("/", " ").split())
    return type(name, (ParamsNotification,), {"METHOD": method, "__module__": __name__})


def notification(method: str, params: dict[str, Any]) -> ParamsNotification:
    """``method`` with ``params`` as a model the app-server's ``emit`` sends."""
    return _kind(method)(params=params)
