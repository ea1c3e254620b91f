"""Wire models of the paged history methods: ``thread/turns/list``, ``thread/items/list`` and
``thread/items/read`` (schemas ``v2/ThreadTurnsList*``, ``v2/ThreadItemsList*``,
``v2/ThreadItemsRead*`` of codex 0.169)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rootstep.protocol.base import Params, WireModel
from rootstep.protocol.thread import Turn

SortDirection = Literal["asc", "desc"]
TurnItemsView = Literal["notLoaded", "summary", "full"]


class ThreadTurnsListParams(Params):
    thread_id: str
    cursor: str | None = None
    # u32 on the reference: negative numbers are invalid params, 0 means "one".
    limit: int | None = Field(default=None, ge=0, le=2**32 - 1)
    sort_direction: SortDirection | None = None
    items_view: TurnItemsView | None = None


class ThreadTurnsListResponse(WireModel):
    data: list[Turn]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ItemAnchor(WireModel):
    """An explicit, exclusive position inside the requested turn."""

    type: Literal["item"]
    item_id: str


class ThreadItemOutputDeferral(WireModel):
    command_execution: bool = False
    mcp_tool_call: bool = False


class ThreadItemsListParams(Params):
    thread_id: str
    turn_id: str | None = None
    cursor: str | ItemAnchor | None = None
    limit: int | None = Field(default=None, ge=0, le=2**32 - 1)
    sort_direction: SortDirection | None = None
    # Accepted for compatibility; outputs are always returned in full (never deferred).
    defer_output: ThreadItemOutputDeferral | None = None


class ThreadItemEntry(WireModel):
    turn_id: str
    # A wire ThreadItem dict, as stored in the turn (other layers add item kinds).
    item: Any
    started_at_ms: int | None = None
    completed_at_ms: int | None = None
    __omit_none__ = frozenset({"started_at_ms", "completed_at_ms"})


class ThreadItemsListResponse(WireModel):
    data: list[ThreadItemEntry]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadItemsReadParams(Params):
    thread_id: str
    turn_id: str
    item_ids: list[str]


class ThreadItemsReadResponse(WireModel):
    data: list[ThreadItemEntry]
