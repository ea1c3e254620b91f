"""The ``fileChange`` item and its approval request, as 0.169 emits them for a patch.

An item's ``changes`` are sorted by path (absolute, on the environment's side): an add or a
delete carries the whole file as its ``diff``; an update carries the unified hunks (one line of
context, no file headers), followed by ``\\n\\nMoved to: <dest>`` for a move. The item's id is
the tool call's id; its status goes ``inProgress`` → ``completed`` | ``failed`` | ``declined``.
"""

from __future__ import annotations

from typing import Any

from rootstep.agent_tools.apply_patch.planner import PatchPlan
from rootstep.agent_tools.textdiff import unified_hunks

ITEM_DIFF_CONTEXT = 1


def file_update_changes(plan: PatchPlan) -> list[dict[str, Any]]:
    """``FileUpdateChange`` objects (``{path, kind, diff}``) for the item."""
    out: list[dict[str, Any]] = []
    for change in plan.changes:
        if change.kind == "add":
            kind: dict[str, Any] = {"type": "add"}
            diff = change.new or ""
        elif change.kind == "delete":
            kind = {"type": "delete"}
            diff = change.old or ""
        else:
            kind = {"type": "update", "move_path": change.move_path}
            diff = unified_hunks(change.old or "", change.new or "", context=ITEM_DIFF_CONTEXT)
            if change.move_path is not None:
                diff = f"{diff}\n\nMoved to: {change.move_path}"
        out.append({"path": change.path, "kind": kind, "diff": diff})
    out.sort(key=lambda c: c["path"])
    return out


def file_change_item(
    item_id: str, plan: PatchPlan, status: str, *, started_at_ms: int, completed_at_ms: int | None = None
) -> dict[str, Any]:
    """The ``fileChange`` ThreadItem (``status``: inProgress | completed | failed | declined)."""
    return {
        "type": "fileChange",
        "id": item_id,
        "changes": file_update_changes(plan),
        "status": status,
        "startedAtMs": started_at_ms,
        "completedAtMs": completed_at_ms,
    }


def file_change_approval_params(
    *, thread_id: str, turn_id: str, item_id: str, started_at_ms: int,
    reason: str | None = None, grant_root: str | None = None,
) -> dict[str, Any]:
    """Params of the server request ``item/fileChange/requestApproval`` (sent after item/started)."""
    return {
        "threadId": thread_id,
        "turnId": turn_id,
        "itemId": item_id,
        "startedAtMs": started_at_ms,
        "reason": reason,
        "grantRoot": grant_root,
    }
