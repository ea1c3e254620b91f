"""Rollouts on disk: resume after restart, torn lines, read, list paging, archive, fork, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.app_server import AppServerProcess, text
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = pytest.mark.timeout(90)


def _rollouts(home: Path) -> list[Path]:
    return sorted((home / "sessions").rglob("rollout-*.jsonl"))


def test_resume_after_restart_restores_history_and_settings(codex_home: Path, model: MockModel) -> None:
    model.queue(assistant_text("remembered: blue"), assistant_text("it was blue"))
    with AppServerProcess(codex_home) as app:
        app.initialize()
        started = app.call("thread/start", {"model": "mock-model", "approvalPolicy": "untrusted"})
        thread_id = started["thread"]["id"]
        assert app.run_turn(thread_id, "my colour is blue")["status"] == "completed"
        assert app.close() == 0
    [path] = _rollouts(codex_home)
    assert path.name.endswith(f"-{thread_id}.jsonl")
    assert path.parent.parent.parent.parent == codex_home / "sessions"
    assert json.loads(path.read_text().splitlines()[0])["type"] == "session_meta"

    with AppServerProcess(codex_home) as app:
        app.initialize()
        resumed = app.call("thread/resume", {"threadId": thread_id})
        assert resumed["thread"]["id"] == thread_id
        assert resumed["approvalPolicy"] == "untrusted"
        turns = resumed["thread"]["turns"]
        assert len(turns) == 1 and turns[0]["status"] == "completed"
        assert [i["type"] for i in turns[0]["items"]] == ["userMessage", "agentMessage"]
        assert turns[0]["items"][1]["text"] == "remembered: blue"
        assert app.notifications("thread/started") == []
        assert app.run_turn(thread_id, "what colour?")["status"] == "completed"
        app.assert_schema_clean()
        assert app.close() == 0
    request = model.requests[1]
    assert request.input_texts() == ["my colour is blue", "what colour?"]
    assert any(i.get("role") == "assistant" for i in request.body["input"])


def test_torn_last_line_is_skipped(codex_home: Path, model: MockModel) -> None:
    model.queue(assistant_text("one"), assistant_text("two"))
    with AppServerProcess(codex_home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread_id, "first")
        assert app.close() == 0
    [path] = _rollouts(codex_home)
    with path.open("a") as handle:
        handle.write('{"timestamp":"2026-01-01T00:00:00.000Z","type":"response_item","payload":{"type":"mes')
    with AppServerProcess(codex_home) as app:
        app.initialize()
        resumed = app.call("thread/resume", {"threadId": thread_id})
        assert len(resumed["thread"]["turns"]) == 1
        assert app.run_turn(thread_id, "second")["status"] == "completed"
        read = app.call("thread/read", {"threadId": thread_id, "includeTurns": True})
        assert len(read["thread"]["turns"]) == 2
        app.assert_schema_clean()
        assert app.close() == 0
    app.wait_stderr("skipping unreadable rollout line")
    assert model.requests[1].input_texts() == ["first", "second"]


def test_resume_unknown_thread(app: AppServerProcess) -> None:
    missing = "0199a000-0000-7000-8000-00000000abcd"
    err = app.call_error("thread/resume", {"threadId": missing})
    assert (err.code, err.message) == (-32600, f"no rollout found for thread id {missing}")


def test_read_and_list_with_paging(app: AppServerProcess, model: MockModel) -> None:
    ids = []
    for index in range(5):
        model.queue(assistant_text(f"answer {index}"))
        thread_id = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread_id, f"question {index}")
        ids.append(thread_id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = app.call("thread/list", params)
        seen += [t["id"] for t in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert seen == sorted(seen, reverse=True)  # newest first (UUIDv7 ids are time-ordered)
    listed = app.call("thread/list", {})["data"]
    previews = {t["id"]: t["preview"] for t in listed}
    assert previews[ids[0]] == "question 0"
    oldest_first = app.call("thread/list", {"sortDirection": "asc", "limit": 5})["data"]
    assert [t["id"] for t in oldest_first] == sorted(ids)
    err = app.call_error("thread/list", {"cursor": "zz"})
    assert err.message == "invalid cursor: zz"

    read = app.call("thread/read", {"threadId": ids[2], "includeTurns": True})["thread"]
    assert read["preview"] == "question 2" and read["turns"][0]["items"][1]["text"] == "answer 2"
    assert app.call("thread/read", {"threadId": ids[2]})["thread"]["turns"] == []


def test_read_unloaded_thread_after_restart(codex_home: Path, model: MockModel) -> None:
    model.queue(assistant_text("stored"))
    with AppServerProcess(codex_home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread_id, "keep this")
        assert app.close() == 0
    with AppServerProcess(codex_home) as app:
        app.initialize()
        thread = app.call("thread/read", {"threadId": thread_id, "includeTurns": True})["thread"]
        assert thread["status"] == {"type": "notLoaded"}
        assert thread["turns"][0]["items"][0]["content"][0]["text"] == "keep this"
        listed = app.call("thread/list", {})["data"]
        assert [t["id"] for t in listed] == [thread_id]
        app.assert_schema_clean()
        assert app.close() == 0


def test_archive_unarchive_and_name(app: AppServerProcess, model: MockModel, codex_home: Path) -> None:
    model.queue(assistant_text("hi"))
    thread_id = app.call("thread/start", {})["thread"]["id"]
    app.run_turn(thread_id, "hello")
    assert app.call("thread/name/set", {"threadId": thread_id, "name": "Greeting"}) == {}
    named = app.wait_notification("thread/name/updated")
    assert named["params"] == {"threadId": thread_id, "threadName": "Greeting"}
    assert app.call("thread/read", {"threadId": thread_id})["thread"]["name"] == "Greeting"

    assert app.call("thread/archive", {"threadId": thread_id}) == {}
    app.wait_notification("thread/archived")
    assert app.call("thread/list", {})["data"] == []
    archived = app.call("thread/list", {"archived": True})["data"]
    assert [t["id"] for t in archived] == [thread_id]
    assert list((codex_home / "archived_sessions").rglob(f"*{thread_id}.jsonl"))
    err = app.call_error("turn/start", {"threadId": thread_id, "input": [text("x")]})
    assert "thread not found" in err.message

    restored = app.call("thread/unarchive", {"threadId": thread_id})["thread"]
    assert restored["id"] == thread_id and restored["name"] == "Greeting"
    app.wait_notification("thread/unarchived")
    assert [t["id"] for t in app.call("thread/list", {})["data"]] == [thread_id]


def test_fork_copies_history(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("base answer"), assistant_text("forked answer"))
    source = app.call("thread/start", {})["thread"]["id"]
    app.run_turn(source, "base question")
    app.wait_notification("thread/started")
    forked = app.call("thread/fork", {"threadId": source})
    fork_id = forked["thread"]["id"]
    assert fork_id != source and forked["thread"]["forkedFromId"] == source
    assert len(forked["thread"]["turns"]) == 1
    started = app.wait_notification("thread/started")
    assert started["params"]["thread"]["id"] == fork_id
    app.run_turn(fork_id, "fork question")
    assert model.requests[1].input_texts() == ["base question", "fork question"]
    source_read = app.call("thread/read", {"threadId": source, "includeTurns": True})["thread"]
    assert len(source_read["turns"]) == 1


def test_ephemeral_thread_writes_nothing(app: AppServerProcess, model: MockModel, codex_home: Path) -> None:
    model.queue(assistant_text("gone"))
    started = app.call("thread/start", {"ephemeral": True})
    assert started["thread"]["ephemeral"] is True and started["thread"]["path"] is None
    app.run_turn(started["thread"]["id"], "forget me")
    assert _rollouts(codex_home) == []


def test_turn_level_settings_persist_into_resume_and_fork(codex_home: Path, model: MockModel) -> None:
    model.queue(assistant_text("one"), assistant_text("two"))
    with AppServerProcess(codex_home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread_id, "first", approvalPolicy="untrusted", model="turn-model")
        assert app.close() == 0
    with AppServerProcess(codex_home) as app:
        app.initialize()
        resumed = app.call("thread/resume", {"threadId": thread_id})
        assert resumed["approvalPolicy"] == "untrusted" and resumed["model"] == "turn-model"
        forked = app.call("thread/fork", {"threadId": thread_id})
        assert forked["approvalPolicy"] == "untrusted" and forked["model"] == "turn-model"
        app.run_turn(forked["thread"]["id"], "second")
        assert model.requests[-1].body["model"] == "turn-model"
        app.assert_schema_clean()
        assert app.close() == 0


def test_broken_config_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    home = tmp_path / "broken"
    home.mkdir()
    (home / "config.toml").write_text("model = [oops\n")
    with AppServerProcess(home) as app:
        app.initialize()
        warning = app.wait_notification("configWarning")
        assert "config.toml" in warning["params"]["summary"]
        started = app.call("thread/start", {})
        assert started["modelProvider"] == "openai"
        app.assert_schema_clean()
        assert app.close() == 0


def test_unsubscribe_unloads_and_resume_reloads(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("a"), assistant_text("b"))
    thread_id = app.call("thread/start", {})["thread"]["id"]
    app.run_turn(thread_id, "first")
    assert app.call("thread/loaded/list", {})["data"] == [thread_id]
    assert app.call("thread/unsubscribe", {"threadId": thread_id}) == {"status": "unsubscribed"}
    app.wait_notification("thread/closed")
    assert app.call("thread/loaded/list", {})["data"] == []
    assert app.call("thread/read", {"threadId": thread_id})["thread"]["status"] == {"type": "notLoaded"}
    assert app.call("thread/unsubscribe", {"threadId": thread_id}) == {"status": "notLoaded"}
    app.call("thread/resume", {"threadId": thread_id})
    app.run_turn(thread_id, "second")
    assert model.requests[1].input_texts() == ["first", "second"]


def test_unwritable_home_gives_a_clear_error(codex_home: Path) -> None:
    (codex_home / "sessions").write_text("not a directory")  # works even when running as root
    with AppServerProcess(codex_home) as app:
        app.initialize()
        err = app.call_error("thread/start", {})
        assert err.code == -32600 and "cannot persist the new thread" in err.message
        assert app.call("thread/start", {"ephemeral": True})["thread"]["ephemeral"] is True
        app.assert_schema_clean()
        assert app.close() == 0
