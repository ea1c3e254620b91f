"""``update_plan``: the model's TODO list, echoed to the client as ``turn/plan/updated``.

Offered when ``[tools.update_plan] enabled = true`` (0.169's default is off). Arguments are
``{explanation?, plan: [{step, status: pending|in_progress|completed}]}`` (unknown fields
refused); the model gets ``Plan updated``; the notification carries the plan with statuses in
camelCase (``inProgress``) and ``explanation`` (null when absent). Several steps in progress are
accepted, as the reference does. In Plan collaboration mode the call is refused.
"""

from __future__ import annotations

from typing import Any

from rootstep.agent_tools.arguments import ArgumentsError, Field, Struct, parse_arguments
from rootstep.agent_tools.specs import tool_spec

PLAN_UPDATED = "Plan updated"
NOT_IN_PLAN_MODE = "update_plan is a TODO/checklist tool and is not allowed in Plan mode"

_STEP = Struct((Field("step", "string"), Field("status", "enum", variants=("pending", "in_progress", "completed"))))
ARGS = Struct((Field("explanation", "string", required=False), Field("plan", "array", item=_STEP)))
_WIRE_STATUS = {"pending": "pending", "in_progress": "inProgress", "completed": "completed"}


def update_plan_tool() -> dict[str, Any]:
    return tool_spec("update_plan")


def handle_update_plan(
    arguments: str, *, thread_id: str, turn_id: str, plan_mode: bool = False
) -> tuple[str, dict[str, Any] | None]:
    """(text for the model, ``turn/plan/updated`` params or None when refused)."""
    if plan_mode:
        return NOT_IN_PLAN_MODE, None
    try:
        args = parse_arguments(arguments, ARGS)
    except ArgumentsError as exc:
        return str(exc), None
    notification = {
        "threadId": thread_id,
        "turnId": turn_id,
        "explanation": args.get("explanation"),
        "plan": [{"step": s["step"], "status": _WIRE_STATUS[s["status"]]} for s in args["plan"]],
    }
    return PLAN_UPDATED, notification
