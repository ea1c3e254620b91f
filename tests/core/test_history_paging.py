"""Paging decisions of thread/turns/list and thread/items/list (pure, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rootstep.core.history import (
    Anchor,
    HistoryError,
    items_page,
    page_size,
    paginate,
    read_items,
    turn_items_view,
    turns_page,
)
from rootstep.protocol.thread import Turn

THREAD = "0199a000-0000-7000-8000-000000000001"


def user(item_id: str, text: str = "hi") -> dict[str, Any]:
    return {"type": "userMessage", "id": item_id, "clientId": None, "content": [{"type": "text", "text": text}]}


def agent(item_id: str, text: str = "ok") -> dict[str, Any]:
    return {"type": "agentMessage", "id": item_id, "text": text}


def tool(item_id: str) -> dict[str, Any]:
    return {"type": "mcpToolCall", "id": item_id, "server": "s", "tool": "t", "status": "completed"}


def make_turns(count: int) -> list[Turn]:
    return [
        Turn(id=f"t{n}", items=[user(f"u{n}"), tool(f"c{n}"), agent(f"a{n}")], items_view="full", status="completed")
        for n in range(count)
    ]


def all_turn_pages(turns: list[Turn], limit: int, direction: Any = None) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = turns_page(THREAD, turns, cursor=cursor, limit=limit, direction=direction, view="notLoaded")
        pages.append([t.id for t in page.turns])
        cursor = page.next_cursor
        if cursor is None:
            return pages


# --- page size and the generic pager -----------------------------------------------------


@pytest.mark.parametrize(("limit", "size"), [(None, 25), (0, 1), (1, 1), (100, 100), (1000, 100)])
def test_page_size_defaults_to_25_and_is_clamped(limit: int | None, size: int) -> None:
    assert page_size(limit) == size


def test_paginate_anchor_is_exclusive_or_inclusive_in_either_direction() -> None:
    keys = ["a", "b", "c", "d"]
    assert paginate(keys, Anchor("b", False), 10, "asc").indices == [2, 3]
    assert paginate(keys, Anchor("b", True), 10, "asc").indices == [1, 2, 3]
    assert paginate(keys, Anchor("c", False), 10, "desc").indices == [1, 0]
    assert paginate(keys, Anchor("c", True), 10, "desc").indices == [2, 1, 0]
    page = paginate(keys, None, 2, "desc")
    assert page.indices == [3, 2] and page.more
    assert not paginate(keys, None, 4, "asc").more


def test_paginate_rejects_an_anchor_that_is_gone() -> None:
    with pytest.raises(HistoryError, match="invalid cursor"):
        paginate(["a"], Anchor("zzz", False), 10, "asc")


# --- turns -------------------------------------------------------------------------------


def test_turns_default_newest_first_and_every_turn_exactly_once() -> None:
    turns = make_turns(7)
    pages = all_turn_pages(turns, limit=3)
    assert pages == [["t6", "t5", "t4"], ["t3", "t2", "t1"], ["t0"]]


def test_turns_ascending_pages() -> None:
    pages = all_turn_pages(make_turns(5), limit=2, direction="asc")
    assert pages == [["t0", "t1"], ["t2", "t3"], ["t4"]]


def test_exact_fit_has_no_next_cursor_but_a_backwards_one() -> None:
    page = turns_page(THREAD, make_turns(2), cursor=None, limit=2, direction=None, view=None)
    assert page.next_cursor is None
    assert page.backwards_cursor is not None


def test_empty_thread_has_no_cursors() -> None:
    page = turns_page(THREAD, [], cursor=None, limit=None, direction=None, view=None)
    assert page.turns == [] and page.next_cursor is None and page.backwards_cursor is None


def test_backwards_cursor_reversed_rereads_the_anchor_turn() -> None:
    turns = make_turns(5)
    first = turns_page(THREAD, turns, cursor=None, limit=2, direction="asc", view="notLoaded")
    assert [t.id for t in first.turns] == ["t0", "t1"]
    # Continue forward from the second page, then walk back from its first turn.
    second = turns_page(THREAD, turns, cursor=first.next_cursor, limit=2, direction="asc", view="notLoaded")
    assert [t.id for t in second.turns] == ["t2", "t3"]
    back = turns_page(THREAD, turns, cursor=second.backwards_cursor, limit=10, direction="desc", view="notLoaded")
    assert [t.id for t in back.turns] == ["t2", "t1", "t0"]


def test_a_turn_appended_between_pages_does_not_shift_the_walk() -> None:
    turns = make_turns(4)
    first = turns_page(THREAD, turns, cursor=None, limit=2, direction="desc", view="notLoaded")
    turns.append(Turn(id="t4", items=[], status="inProgress"))
    rest = turns_page(THREAD, turns, cursor=first.next_cursor, limit=10, direction="desc", view="notLoaded")
    assert [t.id for t in first.turns] + [t.id for t in rest.turns] == ["t3", "t2", "t1", "t0"]


def test_items_view_summary_full_and_not_loaded() -> None:
    items = [user("u1", "first"), agent("a1", "early"), tool("c"), user("u2", "steer"), agent("a2", "final")]
    assert [i["id"] for i in turn_items_view(items, "summary")] == ["u1", "a2"]
    assert turn_items_view(items, "notLoaded") == []
    assert turn_items_view(items, "full") == items
    assert turn_items_view([tool("c")], "summary") == []
    page = turns_page(THREAD, [Turn(id="t", items=items, status="completed")], cursor=None, limit=None,
                      direction=None, view=None)
    assert page.turns[0].items_view == "summary" and len(page.turns[0].items) == 2


def test_listing_does_not_touch_the_stored_turns() -> None:
    turns = make_turns(1)
    turns_page(THREAD, turns, cursor=None, limit=None, direction=None, view="notLoaded")
    assert len(turns[0].items) == 3 and turns[0].items_view == "full"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "[]",
        json.dumps({"turnId": "t1", "includeAnchor": False}),  # the reference's legacy shape is not ours
        json.dumps({"requestedThreadId": "0199a000-0000-7000-8000-000000000002", "scope": {"kind": "turns"},
                    "anchor": "t1", "includeAnchor": False}),  # another thread's cursor
        json.dumps({"requestedThreadId": THREAD, "scope": {"kind": "items"}, "anchor": "t1",
                    "includeAnchor": False}),  # an items cursor
        json.dumps({"requestedThreadId": THREAD, "scope": {"kind": "turns"}, "anchor": "t1"}),
    ],
)
def test_foreign_or_malformed_turn_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(HistoryError) as info:
        turns_page(THREAD, make_turns(3), cursor=cursor, limit=None, direction=None, view=None)
    assert str(info.value) == f"invalid cursor: {cursor}"
    assert not info.value.invalid_params


# --- items -------------------------------------------------------------------------------


def walk_items(turns: list[Turn], *, limit: int, direction: Any = None, turn_id: str | None = None) -> list[str]:
    seen, cursor = [], None
    while True:
        page = items_page(THREAD, turns, turn_id=turn_id, cursor=cursor, limit=limit, direction=direction)
        seen += [f"{e.turn_id}/{e.item['id']}" for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            return seen


def test_items_oldest_first_across_turns_each_exactly_once() -> None:
    turns = make_turns(3)
    expected = [f"t{n}/{k}{n}" for n in range(3) for k in "uca"]
    for limit in (1, 2, 4, 9, 50):
        assert walk_items(turns, limit=limit) == expected
    assert walk_items(turns, limit=2, direction="desc") == expected[::-1]


def test_items_of_one_turn_and_an_unknown_turn() -> None:
    turns = make_turns(3)
    assert walk_items(turns, limit=1, turn_id="t1") == ["t1/u1", "t1/c1", "t1/a1"]
    page = items_page(THREAD, turns, turn_id="nope", cursor=None, limit=None, direction=None)
    assert page.entries == [] and page.next_cursor is None and page.backwards_cursor is None


def test_repeated_item_ids_still_page_exactly_once() -> None:
    """Model item ids are not guaranteed unique: the walk must neither loop nor skip."""
    turns = [Turn(id="t", items=[agent("m"), agent("m"), agent("m"), user("u")], status="completed"),
             Turn(id="t2", items=[agent("m")], status="completed")]
    assert walk_items(turns, limit=1) == ["t/m", "t/m", "t/m", "t/u", "t2/m"]


def test_a_thread_wide_cursor_is_not_valid_for_one_turn() -> None:
    turns = make_turns(2)
    page = items_page(THREAD, turns, turn_id=None, cursor=None, limit=1, direction=None)
    with pytest.raises(HistoryError, match="invalid cursor"):
        items_page(THREAD, turns, turn_id="t0", cursor=page.next_cursor, limit=1, direction=None)


def test_item_anchor_within_a_turn() -> None:
    turns = make_turns(2)
    after = items_page(THREAD, turns, turn_id="t1", cursor={"type": "item", "itemId": "u1"}, limit=None,
                       direction=None)
    assert [e.item["id"] for e in after.entries] == ["c1", "a1"]
    before = items_page(THREAD, turns, turn_id="t1", cursor={"type": "item", "itemId": "a1"}, limit=None,
                        direction="desc")
    assert [e.item["id"] for e in before.entries] == ["c1", "u1"]


def test_item_anchor_errors_are_invalid_params() -> None:
    turns = make_turns(2)
    with pytest.raises(HistoryError, match="turnId is required") as info:
        items_page(THREAD, turns, turn_id=None, cursor={"type": "item", "itemId": "u1"}, limit=None, direction=None)
    assert info.value.invalid_params
    with pytest.raises(HistoryError, match="does not identify an item") as info:
        items_page(THREAD, turns, turn_id="t0", cursor={"type": "item", "itemId": "u1"}, limit=None, direction=None)
    assert info.value.invalid_params


def test_read_items_in_stored_order_within_the_turn() -> None:
    turns = make_turns(2)
    entries = read_items(turns, "t1", ["a1", "u1", "u0", "missing"])
    assert [(e.turn_id, e.item["id"]) for e in entries] == [("t1", "u1"), ("t1", "a1")]
    assert read_items(turns, "nope", ["u1"]) == []


@pytest.mark.parametrize("count", [0, 101])
def test_read_items_needs_1_to_100_ids(count: int) -> None:
    with pytest.raises(HistoryError, match="itemIds must contain 1 to 100 IDs"):
        read_items(make_turns(1), "t0", ["x"] * count)
