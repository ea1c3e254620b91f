"""Everything these engines put on the app-server wire validates against the 0.169 schemas."""

from __future__ import annotations

import json

from rootstep.agent_tools import goals, plan, user_input
from rootstep.agent_tools.apply_patch import parse_patch, paths_to_read, plan_patch
from rootstep.agent_tools.file_changes import file_change_approval_params, file_change_item
from rootstep.agent_tools.view_image import image_view_item
from tests.fixtures.schema_check import check_notification, check_server_request

PATCH = ("*** Begin Patch\n*** Add File: a\n+x\n*** Delete File: b\n*** Update File: c\n*** Move to: d\n"
         "@@\n-1\n+2\n*** End Patch")


def note(method, params):
    check_notification({"method": method, "params": params, "emittedAtMs": 1})


def test_file_change_item_approval_and_turn_diff():
    patch = parse_patch(PATCH)
    contents = {"/w/b": "gone\n", "/w/c": "1\n"}
    result = plan_patch(patch, "/w", {p: contents.get(p, "") for p in paths_to_read(patch, "/w")})
    for status in ("inProgress", "completed", "failed", "declined"):
        item = file_change_item("call-1", result, status, started_at_ms=1,
                                completed_at_ms=None if status == "inProgress" else 2)
        method = "item/started" if status == "inProgress" else "item/completed"
        params = {"item": item, "threadId": "t", "turnId": "u"}
        params.update({"startedAtMs": 1} if status == "inProgress" else {"completedAtMs": 2, "contentTokenCount": None})
        note(method, params)
    check_server_request({"id": 0, "method": "item/fileChange/requestApproval",
                          "params": file_change_approval_params(thread_id="t", turn_id="u", item_id="call-1",
                                                                started_at_ms=3)})
    note("turn/diff/updated", {"threadId": "t", "turnId": "u", "diff": "diff --git a/a b/a\n"})


def test_plan_user_input_image_goal_shapes():
    _, params = plan.handle_update_plan(json.dumps({"plan": [{"step": "s", "status": "in_progress"}]}),
                                        thread_id="t", turn_id="u")
    note("turn/plan/updated", params)
    request, _ = user_input.prepare_request(
        json.dumps({"questions": [{"id": "q", "header": "H", "question": "Q?",
                                   "options": [{"label": "A", "description": "a"}]}]}),
        thread_id="t", turn_id="u", item_id="i")
    check_server_request({"id": 1, "method": "item/tool/requestUserInput", "params": request})
    note("item/started", {"item": image_view_item("i", "/w/x.png", started_at_ms=1), "threadId": "t", "turnId": "u",
                          "startedAtMs": 1})
    store = goals.GoalStore(clock=lambda: 5)
    goal = store.set("t", objective="do it", token_budget=10, token_budget_given=True)
    note("thread/goal/updated", goals.goal_updated_params(goal, None))
    note("thread/goal/updated", goals.goal_updated_params(goal, "u"))
    note("thread/goal/cleared", goals.goal_cleared_params("t"))
