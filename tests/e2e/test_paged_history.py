"""E2E through the app-server process: ``thread/turns/list``, ``thread/items/list``,
``thread/items/read``.

Three turns each call the real MCP echo server (so a turn holds ``userMessage``,
``mcpToolCall``, ``agentMessage``); walking the pages with small limits, in both directions,
must yield every turn and every item exactly once and in the order ``thread/read`` gives — on
the loaded thread, and again after a restart on the same home, when only the rollout is left.
``test_same_pages_and_errors_as_reference`` runs one scenario against the reference codex 0.169
binary too and compares page shapes and error answers. Every response is schema-checked and no
child process may outlive a test.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess, checked_app_server, text
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, held_text, write_config

pytestmark = pytest.mark.timeout(180)

UNKNOWN = "019a0000-0000-7000-8000-000000000000"


@pytest.fixture
def home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    echo = f"\n[mcp_servers.echo]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(ECHO_SERVER)}]\n"
    write_config(home, model, extra=echo)
    return home


@pytest.fixture
def app(home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(home) as server:
        yield server


def run_three_turns(app: AppServerProcess, model: MockModel) -> str:
    for n in range(3):
        model.queue(
            function_call_response(f"call-{n}", "echo", json.dumps({"message": f"m{n}"}), namespace="mcp__echo"),
            assistant_text(f"answer {n}"),
        )
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    for n in range(3):
        assert app.run_turn(thread_id, f"prompt {n}")["status"] == "completed"
    return thread_id


def walk(app: AppServerProcess, method: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every entry of a listing, following ``nextCursor``; and how many pages it took."""
    entries: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        page = app.call(method, {**params, **({"cursor": cursor} if cursor else {})})
        pages += 1
        entries += page["data"]
        assert (page["backwardsCursor"] is None) == (not page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            return entries, pages
        assert pages < 50, "the walk does not end"


def check_history(app: AppServerProcess, thread_id: str) -> None:
    """The paged listings agree with ``thread/read`` (all turns, full items)."""
    turns = app.call("thread/read", {"threadId": thread_id, "includeTurns": True})["thread"]["turns"]
    assert len(turns) == 3
    assert [[i["type"] for i in t["items"]] for t in turns] == [["userMessage", "mcpToolCall", "agentMessage"]] * 3
    turn_ids = [t["id"] for t in turns]
    flat = [(t["id"], item) for t in turns for item in t["items"]]

    # Turns: newest first by default; two per page.
    listed, pages = walk(app, "thread/turns/list", {"threadId": thread_id, "limit": 2})
    assert [t["id"] for t in listed] == turn_ids[::-1] and pages == 2
    # The default view is a summary: the prompt and the final answer, not the tool call.
    assert [[i["type"] for i in t["items"]] for t in listed] == [["userMessage", "agentMessage"]] * 3
    assert all(t["itemsView"] == "summary" for t in listed)
    assert listed[0]["items"][1]["text"] == "answer 2"

    listed, pages = walk(app, "thread/turns/list",
                         {"threadId": thread_id, "limit": 1, "sortDirection": "asc", "itemsView": "full"})
    assert listed == [{**t, "itemsView": "full"} for t in turns] and pages == 3
    listed, _ = walk(app, "thread/turns/list", {"threadId": thread_id, "itemsView": "notLoaded"})
    assert [(t["id"], t["items"], t["itemsView"]) for t in listed] == [(i, [], "notLoaded") for i in turn_ids[::-1]]

    # Items: oldest first by default, across turns; each exactly once whatever the page size.
    for limit in (1, 2, 4):
        entries, pages = walk(app, "thread/items/list", {"threadId": thread_id, "limit": limit})
        assert [(e["turnId"], e["item"]) for e in entries] == flat
        assert pages == -(-len(flat) // limit)
    entries, _ = walk(app, "thread/items/list", {"threadId": thread_id, "limit": 4, "sortDirection": "desc"})
    assert [(e["turnId"], e["item"]) for e in entries] == flat[::-1]
    entries, _ = walk(app, "thread/items/list", {"threadId": thread_id, "turnId": turn_ids[1], "limit": 2})
    assert [e["item"] for e in entries] == turns[1]["items"]

    # A backwards cursor, used in the other direction, re-reads its anchor and what precedes it.
    second = app.call("thread/items/list", {"threadId": thread_id, "limit": 2, "cursor": app.call(
        "thread/items/list", {"threadId": thread_id, "limit": 2})["nextCursor"]})
    back = app.call("thread/items/list",
                    {"threadId": thread_id, "sortDirection": "desc", "cursor": second["backwardsCursor"]})
    assert [(e["turnId"], e["item"]) for e in back["data"]] == flat[:3][::-1]

    # An explicit item anchor inside one turn: the items after the tool call.
    tool_call = turns[2]["items"][1]
    after = app.call("thread/items/list", {"threadId": thread_id, "turnId": turn_ids[2],
                                           "cursor": {"type": "item", "itemId": tool_call["id"]}})
    assert [e["item"]["type"] for e in after["data"]] == ["agentMessage"]

    read = app.call("thread/items/read", {"threadId": thread_id, "turnId": turn_ids[0],
                                          "itemIds": [turns[0]["items"][2]["id"], turns[0]["items"][0]["id"]]})
    assert [e["item"] for e in read["data"]] == [turns[0]["items"][0], turns[0]["items"][2]]


def test_pages_cover_every_turn_and_item_once_loaded_and_after_restart(
    home: Path, model: MockModel
) -> None:
    with checked_app_server(home) as app:
        thread_id = run_three_turns(app, model)
        check_history(app, thread_id)

    with checked_app_server(home) as app:
        # Not resumed: the listings come from the rollout alone.
        assert app.call("thread/loaded/list", {})["data"] == []
        check_history(app, thread_id)
        assert app.call("thread/loaded/list", {})["data"] == []
        # Archived threads still page.
        app.call("thread/archive", {"threadId": thread_id})
        listed, _ = walk(app, "thread/turns/list", {"threadId": thread_id, "limit": 2})
        assert len(listed) == 3


def test_a_running_turn_is_listed_in_progress(app: AppServerProcess, model: MockModel) -> None:
    held = held_text("finally", deltas=["fin", "ally"])
    model.queue(assistant_text("first answer"), held)
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    app.run_turn(thread_id, "one")
    turn = app.call("turn/start", {"threadId": thread_id, "input": [text("two")]})["turn"]
    app.wait_notification("item/completed", lambda m: m["params"]["item"]["type"] == "userMessage"
                          and m["params"]["turnId"] == turn["id"])
    assert held.reached_hold.wait(30)

    [newest] = app.call("thread/turns/list", {"threadId": thread_id, "limit": 1})["data"]
    assert newest["id"] == turn["id"] and newest["status"] == "inProgress"
    assert [i["type"] for i in newest["items"]] == ["userMessage"]
    items = app.call("thread/items/list", {"threadId": thread_id, "sortDirection": "desc", "limit": 1})["data"]
    assert items[0]["turnId"] == turn["id"] and items[0]["item"]["content"][0]["text"] == "two"

    held.release()
    app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
    [newest] = app.call("thread/turns/list", {"threadId": thread_id, "limit": 1})["data"]
    assert newest["status"] == "completed" and newest["items"][-1]["text"] == "finally"


def test_bad_cursors_and_unknown_threads_are_clear_errors(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("a"), assistant_text("b"), assistant_text("c"))
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    other_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    app.run_turn(thread_id, "x")
    app.run_turn(thread_id, "y")
    app.run_turn(other_id, "z")
    turns_cursor = app.call("thread/turns/list", {"threadId": thread_id, "limit": 1})["nextCursor"]
    items_cursor = app.call("thread/items/list", {"threadId": thread_id, "limit": 1})["nextCursor"]

    def error(method: str, params: dict[str, Any]) -> tuple[int, str]:
        err = app.call_error(method, params)
        return err.code, err.message

    for method in ("thread/turns/list", "thread/items/list"):
        assert error(method, {"threadId": thread_id, "cursor": "garbage"}) == (-32600, "invalid cursor: garbage")
        # Another thread's cursor is refused rather than silently restarting the walk.
        assert error(method, {"threadId": other_id, "cursor": turns_cursor})[1].startswith("invalid cursor: ")
        assert error(method, {"threadId": "not-a-uuid"}) == (-32600, "invalid thread id: not-a-uuid")
    # A turns cursor is not an items cursor and vice versa.
    assert error("thread/items/list", {"threadId": thread_id, "cursor": turns_cursor}) == (
        -32600, f"invalid cursor: {turns_cursor}")
    assert error("thread/turns/list", {"threadId": thread_id, "cursor": items_cursor}) == (
        -32600, f"invalid cursor: {items_cursor}")
    assert error("thread/turns/list", {"threadId": UNKNOWN}) == (-32600, f"thread not loaded: {UNKNOWN}")
    assert error("thread/items/list", {"threadId": UNKNOWN}) == (-32600, f"no rollout found for thread id {UNKNOWN}")
    assert error("thread/items/list", {"threadId": thread_id, "cursor": {"type": "item", "itemId": "x"}}) == (
        -32602, "turnId is required when cursor is an item anchor")
    assert error("thread/items/read", {"threadId": thread_id, "turnId": "t", "itemIds": []}) == (
        -32600, "itemIds must contain 1 to 100 IDs")
    assert error("thread/turns/list", {"threadId": thread_id, "limit": -1})[0] == -32600

    ephemeral = app.call("thread/start", {"model": "mock-model", "ephemeral": True})["thread"]["id"]
    assert error("thread/turns/list", {"threadId": ephemeral}) == (
        -32600, "ephemeral threads do not support thread/turns/list")

    # Still serving: the same listing with a good cursor continues where it left off.
    rest = app.call("thread/turns/list", {"threadId": thread_id, "cursor": turns_cursor})
    assert len(rest["data"]) == 1 and rest["nextCursor"] is None


def test_items_read_is_experimental_but_the_lists_are_not(home: Path, model: MockModel) -> None:
    model.queue(assistant_text("hello"))
    with AppServerProcess(home) as app:
        app.initialize(experimental=False)
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        app.run_turn(thread_id, "hi")
        [turn] = app.call("thread/turns/list", {"threadId": thread_id})["data"]
        assert [e["item"]["type"] for e in app.call("thread/items/list", {"threadId": thread_id})["data"]] == [
            "userMessage", "agentMessage"]
        err = app.call_error("thread/items/read", {"threadId": thread_id, "turnId": turn["id"], "itemIds": ["x"]})
        assert (err.code, err.message) == (-32600, "thread/items/read requires experimentalApi capability")
        app.assert_schema_clean()
        assert app.close() == 0


def _reference_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    """What a client sees of paged history: page shapes and the errors of bad requests."""
    model.queue(*(assistant_text(f"answer {n}") for n in range(3)), assistant_text("eph"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        for n in range(3):
            app.run_turn(thread_id, f"prompt {n}")
        ephemeral = app.call("thread/start", {"model": "mock-model", "ephemeral": True})["thread"]["id"]
        app.run_turn(ephemeral, "eph")

        def shape(method: str, params: dict[str, Any]) -> list[Any]:
            pages, cursor = [], None
            while True:
                page = app.call(method, {"threadId": thread_id, **params, **({"cursor": cursor} if cursor else {})})
                pages.append([(e.get("status"), e.get("itemsView"), [i["type"] for i in e["items"]])
                              if "items" in e else (e["item"]["type"], e["item"].get("text")) for e in page["data"]])
                cursor = page["nextCursor"]
                if cursor is None:
                    return pages

        def error(method: str, params: dict[str, Any]) -> tuple[Any, str]:
            err = app.call_error(method, params)
            return err.code, err.message.replace(thread_id, "<id>").replace(ephemeral, "<eph>")

        turns = app.call("thread/turns/list", {"threadId": thread_id, "sortDirection": "asc"})["data"]
        first_item = turns[0]["items"][0]["id"]
        result = {
            "turns": shape("thread/turns/list", {"limit": 2}),
            "turns_asc_full": shape("thread/turns/list", {"limit": 1, "sortDirection": "asc", "itemsView": "full"}),
            "turns_limit0": app.call("thread/turns/list", {"threadId": thread_id, "limit": 0})["data"][0]["id"]
            == turns[-1]["id"],
            "items": shape("thread/items/list", {"limit": 4}),
            "items_desc": shape("thread/items/list", {"limit": 2, "sortDirection": "desc"}),
            "items_turn": shape("thread/items/list", {"turnId": turns[1]["id"]}),
            "items_unknown_turn": app.call("thread/items/list", {"threadId": thread_id, "turnId": "nope"}),
            "items_anchor": shape("thread/items/list", {"turnId": turns[0]["id"],
                                                        "cursor": {"type": "item", "itemId": first_item}}),
            "read": [e["item"]["id"] == first_item for e in app.call(
                "thread/items/read",
                {"threadId": thread_id, "turnId": turns[0]["id"], "itemIds": [first_item]})["data"]],
            "errors": [
                error("thread/turns/list", {"threadId": thread_id, "cursor": "garbage"}),
                error("thread/items/list", {"threadId": thread_id, "cursor": "garbage"}),
                error("thread/turns/list", {"threadId": UNKNOWN}),
                error("thread/turns/list", {"threadId": ephemeral}),
                error("thread/items/list", {"threadId": thread_id, "cursor": {"type": "item", "itemId": "x"}}),
                error("thread/items/list", {"threadId": thread_id, "turnId": turns[0]["id"],
                                            "cursor": {"type": "item", "itemId": "zzz"}}),
                error("thread/items/read", {"threadId": thread_id, "turnId": "t", "itemIds": []}),
                error("thread/items/read", {"threadId": thread_id, "turnId": "t", "itemIds": ["x"] * 101}),
                error("thread/turns/list", {}),
            ],
        }
        app.assert_schema_clean()
        assert app.close() == 0
    return result


@pytest.mark.reference
def test_same_pages_and_errors_as_reference(reference_codex: Path, tmp_path: Path) -> None:
    from tests.fixtures.differential import assert_same_keys, run_both

    assert_same_keys(*run_both(reference_codex, tmp_path, _reference_scenario))
