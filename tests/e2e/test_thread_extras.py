"""Thread methods the TUI uses beyond turns, against codex 0.169 where it runs offline:
``thread/goal/*``, ``thread/settings/update``, ``thread/readState/*``, ``review/start``, the
fork's name, the resume cursors, and the thread/turn/item fields 0.169 sends. Plus rootstep's
side of two lifecycle rules: per-thread config tables merge into config.toml's, and the last
client leaving unloads the threads nobody follows (their MCP servers stop)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.fixtures.app_server import AppServerProcess, RpcError, checked_app_server
from tests.fixtures.differential import run_both
from tests.fixtures.mcp_helpers import echo_server_toml, live_children
from tests.fixtures.mock_model import MockModel, assistant_text, write_config
from tests.fixtures.tui import ListeningAppServer, rootstep_server_command

pytestmark = pytest.mark.timeout(120)


def _call(app: AppServerProcess, method: str, params: Any = None) -> Any:
    try:
        return app.call(method, params)
    except RpcError as exc:
        return ("error", exc.code, exc.message.replace(str(params.get("threadId", "")), "<thread>")
                if isinstance(params, dict) else exc.message)


def _goal_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]["id"]
        ephemeral = app.call("thread/start", {"ephemeral": True})["thread"]["id"]
        steps = [
            ("thread/goal/get", {"threadId": thread}),
            ("thread/goal/set", {"threadId": thread, "status": "paused"}),
            ("thread/goal/set", {"threadId": thread, "objective": "   "}),
            ("thread/goal/set", {"threadId": thread, "objective": "x" * 4001, "status": "paused"}),
            ("thread/goal/set", {"threadId": thread, "objective": " Ship the release ", "status": "paused"}),
            ("thread/goal/set", {"threadId": thread, "tokenBudget": 0}),
            ("thread/goal/set", {"threadId": thread, "tokenBudget": 5000}),
            ("thread/goal/set", {"threadId": thread, "status": "complete"}),
            ("thread/goal/get", {"threadId": thread}),
            ("thread/goal/clear", {"threadId": thread}),
            ("thread/goal/clear", {"threadId": thread}),
            ("thread/goal/get", {"threadId": ephemeral}),
            ("thread/goal/set", {"threadId": ephemeral, "objective": "x"}),
            ("thread/goal/get", {"threadId": "not-a-uuid"}),
        ]
        results = []
        for method, params in steps:
            result = _call(app, method, params)
            if isinstance(result, dict) and result.get("goal"):
                result = {k: v for k, v in result["goal"].items() if k not in ("threadId", "createdAt", "updatedAt")}
            results.append(result)
        # The goal survives a reload.
        app.call("thread/goal/set", {"threadId": thread, "objective": "Keep me", "status": "paused"})
        app.call("thread/unsubscribe", {"threadId": thread})
        app.call("thread/resume", {"threadId": thread})
        results.append(app.call("thread/goal/get", {"threadId": thread})["goal"]["objective"])
        notes = [(m["method"], m["params"].get("goal", {}).get("status")) for m in app.notifications()
                 if m["method"].startswith("thread/goal/")]
        app.assert_schema_clean()
    results = [r if not (isinstance(r, tuple) and "invalid thread id" in r[2]) else r[:2] for r in results]
    return {"results": results, "notifications": notes}


def test_goals_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _goal_scenario)
    assert ours["results"] == reference["results"]
    # 0.169 sends the same updates; after a resume it repeats the goal (as we do).
    assert ours["notifications"] == reference["notifications"]


def _settings_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(assistant_text("first"), assistant_text("second"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread, "one")
        update = app.call("thread/settings/update", {"threadId": thread, "model": "other-model", "effort": "high",
                                                     "sandboxPolicy": {"type": "workspaceWrite"},
                                                     "approvalPolicy": "on-request"})
        settings = app.wait_notification("thread/settings/updated")["params"]["threadSettings"]
        app.run_turn(thread, "two")
        body = model.requests[-1].body
        missing = _call(app, "thread/settings/update", {"threadId": "01a23b42-8d72-7301-9cb2-c8a1e504053b"})
        app.assert_schema_clean()
    keep = ("model", "modelProvider", "effort", "approvalPolicy", "approvalsReviewer", "serviceTier", "summary",
            "multiAgentMode", "activePermissionProfile", "disabledPluginIds")
    return {
        "update": update, "settings": {k: settings[k] for k in keep},
        "sandbox": settings["sandboxPolicy"]["type"], "mode": settings["collaborationMode"]["mode"],
        "request": (body["model"], (body.get("reasoning") or {}).get("effort")), "missing": missing,
    }


def test_settings_update_applies_to_the_next_turn_like_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _settings_scenario)
    assert ours == reference
    assert ours["request"] == ("other-model", "high")


def _read_state_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(assistant_text("a"), assistant_text("b"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]["id"]
        before = _call(app, "thread/readState/update", {"threadId": thread, "operation": {"type": "read"},
                                                         "expectedRevision": "x"})
        turn = app.run_turn(thread, "hi")
        listed = app.call("thread/list", {})["readStates"][thread]
        stale = _call(app, "thread/readState/update", {"threadId": thread, "operation": {"type": "read"},
                                                        "expectedRevision": "stale"})
        read = app.call("thread/readState/update", {"threadId": thread, "operation": {"type": "read"},
                                                    "expectedRevision": listed["revision"]})["readState"]
        unread = app.call("thread/readState/update", {"threadId": thread, "operation": {"type": "unread"},
                                                      "expectedRevision": read["revision"]})["readState"]
        app.run_turn(thread, "again")
        after = app.call("thread/list", {})["readStates"][thread]
        filtered = app.call("thread/list", {"sourceKinds": ["exec"]})
        changed = [m["params"]["readState"]["firstUnread"] for m in app.notifications("thread/readState/changed")]
        app.assert_schema_clean()
    first = listed["firstUnread"]
    return {
        "before": before, "first_unread_is_the_turn": first == {"type": "turn", "turnId": turn["id"]},
        "stale": stale, "read": read["firstUnread"], "unread": unread["firstUnread"],
        "after": after["firstUnread"], "new_revision": after["revision"] != unread["revision"],
        "changed": [c if c is None or c["type"] != "turn" else "turn" for c in changed],
        "exec_only": (filtered["data"], filtered["readStates"]),
    }


def test_read_states_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _read_state_scenario)
    assert ours == reference


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "a.txt").write_text("one\n")
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "first"], check=True)
    (path / "a.txt").write_text("one\ntwo\n")
    return path


REVIEW = {
    "findings": [
        {"title": "[P1] Loses the last line", "body": "Reading stops early.\nSee the loop.", "confidence_score": 0.8,
         "priority": 1, "code_location": {"absolute_file_path": "/w/a.txt", "line_range": {"start": 2, "end": 3}}},
        {"title": "[P3] Typo", "body": "Spelling.", "confidence_score": 0.4, "priority": 3,
         "code_location": {"absolute_file_path": "/w/b.txt", "line_range": {"start": 1, "end": 1}}},
    ],
    "overall_correctness": "patch is incorrect", "overall_explanation": "Two problems.",
    "overall_confidence_score": 0.6,
}


def _review_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = _git_repo(home / "work")
    model.queue(assistant_text("hello"), assistant_text(json.dumps(REVIEW)), assistant_text("plain words"),
                assistant_text(json.dumps({"findings": [], "overall_explanation": ""})), assistant_text("after"))
    out: dict[str, Any] = {}
    with AppServerProcess(home, command=command, cwd=work) as app:
        app.initialize()
        thread = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        app.run_turn(thread, "hello")
        reviews = []
        for target in ({"type": "uncommittedChanges"}, {"type": "baseBranch", "branch": "main"},
                       {"type": "custom", "instructions": "Check the docs"}):
            start = len(app.messages)
            response = app.call("review/start", {"threadId": thread, "target": target, "delivery": "inline"})
            turn_id = response["turn"]["id"]
            app.wait_notification("turn/completed", lambda m, turn_id=turn_id: m["params"]["turn"]["id"] == turn_id)
            items = [(m["method"], m["params"]["item"]["type"],
                      m["params"]["item"].get("review") or m["params"]["item"].get("text")
                      or m["params"]["item"]["content"][0]["text"])
                     for m in app.messages[start:]
                     if m.get("method") in ("item/started", "item/completed")
                     and m["params"]["item"]["type"] != "agentMessage" or (
                         m.get("method") == "item/completed" and m["params"]["item"]["type"] == "agentMessage")]
            shown = response["turn"]["items"][0]["content"][0]["text"]
            reviews.append({"shown": shown, "root": response["turn"]["rootTurnId"],
                            "same_thread": response["reviewThreadId"] == thread, "items": items,
                            "prompt": model.requests[-1].input_texts()[-1]})
        out["reviews"] = reviews
        out["detached"] = _call(app, "review/start", {"threadId": thread, "target": {"type": "uncommittedChanges"},
                                                       "delivery": "detached"})
        out["empty"] = _call(app, "review/start", {"threadId": thread,
                                                    "target": {"type": "custom", "instructions": " "}})
        app.run_turn(thread, "after the reviews")
        # The thread's model remembers what the reviews said, and not the reviewer's own prompts.
        texts = json.dumps(model.requests[-1].body["input"])
        out["remembers"] = "Two problems." in texts and "plain words" in texts
        app.assert_schema_clean()
    import re

    def no_sha(value: Any) -> Any:  # the merge base commit differs between the two repositories
        return re.sub(r"[0-9a-f]{40}", "<sha>", value) if isinstance(value, str) else value

    for review in out["reviews"]:
        review["prompt"] = no_sha(review["prompt"])
        review["items"] = [tuple(no_sha(v) for v in item) for item in review["items"]]
    return out


def test_review_turns_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _review_scenario)
    assert ours["reviews"] == reference["reviews"]
    assert (ours["detached"], ours["empty"], ours["remembers"]) == (
        reference["detached"], reference["empty"], reference["remembers"])
    assert ours["reviews"][0]["items"][-1][2].startswith("Two problems.\n\nFull review comments:\n\n- [P1]")


def _shapes_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(assistant_text("an answer"), assistant_text("more"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        started = app.call("thread/start", {})
        thread = started["thread"]["id"]
        turn = app.run_turn(thread, "hi")
        app.call("thread/name/set", {"threadId": thread, "name": "My task"})
        fork = app.call("thread/fork", {"threadId": thread})
        app.call("thread/unsubscribe", {"threadId": thread})
        resumed = app.call("thread/resume", {"threadId": thread, "excludeTurns": True,
                                             "initialTurnsPage": {"limit": 1, "itemsView": "full"}})
        page = app.call("thread/turns/list", {"threadId": thread, "cursor": resumed["turnsBackwardsCursor"],
                                              "sortDirection": "desc", "limit": 5})
        items = app.call("thread/items/list", {"threadId": thread, "cursor": resumed["itemsBackwardsCursor"],
                                               "sortDirection": "desc", "limit": 5})
        completed = [m["params"]["item"] for m in app.notifications("item/completed")]
        usage = app.notifications("thread/tokenUsage/updated")[-1]["params"]["tokenUsage"]
        app.assert_schema_clean()
    return {
        "thread_keys": sorted(started["thread"]), "session_keys": sorted(started),
        "turn_keys": sorted(turn), "root_turn": turn["rootTurnId"] == turn["id"],
        "item_keys": sorted({k for item in completed for k in ("startedAtMs", "completedAtMs") if k in item}),
        "fork_name": fork["thread"]["name"], "context_window": usage["modelContextWindow"],
        "resume_keys": sorted(k for k in resumed if k not in ("thread",)),
        "initial_page": [(t["status"], [i["type"] for i in t["items"]]) for t in resumed["initialTurnsPage"]["data"]],
        "turn_page": [t["id"] == turn["id"] for t in page["data"]],
        "item_page": [e["item"]["type"] for e in items["data"]],
    }


def test_thread_turn_and_item_fields_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _shapes_scenario)
    for key in ("fork_name", "context_window", "root_turn", "item_keys", "initial_page", "turn_page", "item_page"):
        assert ours[key] == reference[key], f"{key}:\n ours: {ours[key]}\n ref:  {reference[key]}"
    for key in ("thread_keys", "session_keys", "turn_keys", "resume_keys"):
        missing = set(reference[key]) - set(ours[key])
        assert not missing, f"{key}: rootstep lacks {sorted(missing)}"


def test_a_thread_config_table_merges_into_the_config_toml_entry(tmp_path: Path, model: MockModel) -> None:
    """Overriding one key of a provider keeps the rest of its entry (its base_url), so the turn
    still reaches the model."""
    home = tmp_path / "home"
    write_config(home, model)
    model.queue(assistant_text("still reachable"))
    with checked_app_server(home) as app:
        thread = app.call("thread/start", {"config": {"model_providers": {"mock_provider": {
            "http_headers": {"x-from-thread": "yes"}}}}})["thread"]["id"]
        assert app.run_turn(thread, "hi")["status"] == "completed"
        assert model.requests[-1].headers["x-from-thread"] == "yes"


def test_the_last_client_leaving_unloads_threads_and_stops_their_mcp_servers(tmp_path: Path, model: MockModel) -> None:
    home = tmp_path / "home"
    write_config(home, model, extra=echo_server_toml("echo"))
    server = ListeningAppServer(rootstep_server_command(), home=home, cwd=tmp_path, listen="ws://127.0.0.1:0")
    try:
        def session(action: Any) -> Any:
            with connect(server.url) as ws:
                def call(method: str, params: Any, rid: int) -> Any:
                    ws.send(json.dumps({"id": rid, "method": method, "params": params}))
                    while True:
                        message = json.loads(ws.recv(timeout=30))
                        if message.get("id") == rid:
                            return message.get("result", message.get("error"))
                call("initialize", {"clientInfo": {"name": "t", "version": "1"}}, 0)
                ws.send(json.dumps({"method": "initialized"}))
                return action(call)

        def start(call: Any) -> Any:
            thread = call("thread/start", {}, 1)["thread"]["id"]
            status = call("mcpServerStatus/list", {"threadId": thread}, 2)  # waits for the server to start
            assert [s["name"] for s in status["data"]] == ["echo"]
            return thread

        session(start)
        deadline = time.monotonic() + 30
        while live_children(server.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not live_children(server.proc.pid)  # the echo server stopped with its thread
        assert session(lambda call: call("thread/loaded/list", {}, 1)["data"]) == []
    finally:
        assert server.stop() == 0


def test_a_model_saved_by_config_write_is_used_by_new_threads(tmp_path: Path, model: MockModel) -> None:
    """What the TUI's /model saves (``config/batchWrite``) is what the next new thread runs."""
    home = tmp_path / "home"
    write_config(home, model)
    model.queue(assistant_text("ok"))
    with checked_app_server(home) as app:
        app.call("config/batchWrite", {"edits": [
            {"keyPath": "model", "value": "saved-model", "mergeStrategy": "replace"},
            {"keyPath": "model_reasoning_effort", "value": "high", "mergeStrategy": "replace"},
        ], "reloadUserConfig": True})
        started = app.call("thread/start", {})
        assert (started["model"], started["reasoningEffort"]) == ("saved-model", "high")
        app.run_turn(started["thread"]["id"], "hi")
        body = model.requests[-1].body
        assert (body["model"], body["reasoning"]["effort"]) == ("saved-model", "high")
