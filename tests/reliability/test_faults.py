"""Fault injection through the app-server process: after each fault the thread answers the
next turn and the client can see what happened (turn error, item status, server status).

Faults: an MCP server killed mid-call (SIGKILL from outside, and one that exits by itself); an
MCP server that never answers (``tool_timeout_sec`` small); the model endpoint dropping the
stream mid-event, answering 500s, then recovering; a read-only home folder and a full disk while
persisting (clear error, and the thread resumes whole after a restart).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import live_children
from tests.fixtures.mock_model import (
    assistant_text,
    ev_assistant_message,
    ev_completed,
    ev_message_added,
    ev_output_text_delta,
    ev_response_created,
    function_call_response,
    http_error,
    write_config,
)
from tests.reliability.flaky_model import CutStream, FlakyModel
from tests.reliability.helpers import describe, echo_pids, echo_server_toml, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def flaky() -> Iterator[FlakyModel]:
    with FlakyModel(default=assistant_text("default answer")) as server:
        yield server


def started_app(home: Path, **kw: Any) -> AppServerProcess:
    app = AppServerProcess(home, **kw).start()
    app.initialize()
    return app


def agent_texts(app: AppServerProcess, turn_id: str) -> list[str]:
    return [m["params"]["item"]["text"] for m in app.notifications("item/completed")
            if m["params"]["turnId"] == turn_id and m["params"]["item"]["type"] == "agentMessage"]


def mcp_items(app: AppServerProcess, turn_id: str) -> list[dict[str, Any]]:
    return [m["params"]["item"] for m in app.notifications("item/completed")
            if m["params"]["turnId"] == turn_id and m["params"]["item"]["type"] == "mcpToolCall"]


def answers_next_turn(app: AppServerProcess, model: FlakyModel, thread_id: str, text: str = "back to normal") -> None:
    model.queue(assistant_text(text))
    turn = app.run_turn(thread_id, "and now?")
    assert turn["status"] == "completed", turn
    assert agent_texts(app, turn["id"]) == [text]


def runtime_status(app: AppServerProcess, thread_id: str, name: str) -> dict[str, Any]:
    listed = app.call("mcpServerStatus/list", {"threadId": thread_id, "detail": "toolsAndAuthOnly"})
    return next(s for s in listed["data"] if s["name"] == name)


def finish(app: AppServerProcess, before: set[int]) -> None:
    app.assert_schema_clean()
    assert app.close(timeout=30) == 0
    try:
        wait_until(lambda: not (live_children() - before), timeout=15, what="children reaped")
    except AssertionError:
        raise AssertionError(f"leaked: {describe(live_children() - before)}") from None


@contextmanager
def running_app(home: Path, **kw: Any) -> Iterator[AppServerProcess]:
    """An initialized app-server on ``home``; on the way out its messages must have been
    schema-clean, it must exit 0, and every process it started must be gone (:func:`finish`)."""
    before = live_children()
    app = started_app(home, **kw)
    try:
        yield app
    finally:
        finish(app, before)


# --- the model endpoint -------------------------------------------------------------------


def text_events(text: str) -> list[dict[str, Any]]:
    return [ev_response_created("resp-cut"), ev_message_added("msg-cut"), ev_output_text_delta("msg-cut", text[:5]),
            ev_assistant_message("msg-cut", text), ev_completed("resp-cut")]


def test_model_drops_the_stream_mid_event_then_recovers(tmp_path: Path, flaky: FlakyModel) -> None:
    home = tmp_path / "home"
    write_config(home, flaky)  # no retries: the drop is the turn's error
    with running_app(home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        flaky.queue(CutStream(events=text_events("half an answer"), cut_at=3))
        turn = app.run_turn(thread["id"], "hello")
        assert turn["status"] == "failed"
        assert turn["error"]["message"], turn
        errors = [m for m in app.notifications("error") if m["params"]["turnId"] == turn["id"]]
        assert errors and errors[0]["params"]["error"]["message"] == turn["error"]["message"]
        answers_next_turn(app, flaky, thread["id"])
        # the failed turn is part of the thread's history, the next one too
        read = app.call("thread/read", {"threadId": thread["id"], "includeTurns": True})["thread"]
        assert [t["status"] for t in read["turns"]] == ["failed", "completed"]


def test_model_drop_before_any_output_is_retried(tmp_path: Path, flaky: FlakyModel) -> None:
    home = tmp_path / "home"
    write_config(home, flaky)
    config = (home / "config.toml").read_text().replace("stream_max_retries = 0", "stream_max_retries = 2")
    (home / "config.toml").write_text(config)
    with running_app(home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        flaky.queue(CutStream(events=text_events("never seen"), cut_at=0), assistant_text("second try"))
        turn = app.run_turn(thread["id"], "hello")
        assert turn["status"] == "completed", turn
        assert agent_texts(app, turn["id"]) == ["second try"]
        assert len(flaky.requests) == 2


def test_model_500s_fail_the_turn_then_recovery_answers(tmp_path: Path, flaky: FlakyModel) -> None:
    home = tmp_path / "home"
    write_config(home, flaky)
    with running_app(home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        flaky.queue(http_error(500, "upstream exploded"))
        turn = app.run_turn(thread["id"], "hello")
        assert turn["status"] == "failed"
        assert "500" in turn["error"]["message"] and "upstream exploded" in turn["error"]["message"]
        flaky.queue(http_error(503, "still down"))
        turn = app.run_turn(thread["id"], "again")
        assert turn["status"] == "failed" and "still down" in turn["error"]["message"]
        answers_next_turn(app, flaky, thread["id"])
        # the next request carries the conversation, not the failures' debris
        assert flaky.requests[-1].input_texts() == ["hello", "again", "and now?"]


def test_model_500s_are_retried_within_one_turn(tmp_path: Path, flaky: FlakyModel) -> None:
    home = tmp_path / "home"
    write_config(home, flaky)
    config = (home / "config.toml").read_text().replace("request_max_retries = 0", "request_max_retries = 3")
    (home / "config.toml").write_text(config)
    with running_app(home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        flaky.queue(http_error(500, "blip"), http_error(500, "blip"), assistant_text("recovered"))
        turn = app.call("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "hello"}]})["turn"]
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=60)
        assert done["params"]["turn"]["status"] == "completed"
        assert agent_texts(app, turn["id"]) == ["recovered"]
        assert len(flaky.requests) == 3


# --- MCP servers --------------------------------------------------------------------------


@pytest.fixture
def mcp_home(tmp_path: Path, flaky: FlakyModel) -> Path:
    home = tmp_path / "home"
    write_config(home, flaky, extra=echo_server_toml(
        "echo", extra="tool_timeout_sec = 1.0\ndefault_tools_approval_mode = \"approve\"\n"))
    return home


def call_in_turn(app: AppServerProcess, model: FlakyModel, thread_id: str, tool: str, args: dict[str, Any],
                 answer: str = "tool done") -> tuple[dict[str, Any], str]:
    """A turn whose model calls ``echo``'s ``tool``; returns (turn/start's turn, call id)."""
    call_id = f"call-{tool}-{len(model.requests)}"
    model.queue(function_call_response(call_id, tool, json.dumps(args), namespace="mcp__echo"), assistant_text(answer))
    turn = app.call("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": f"use {tool}"}]})["turn"]
    return turn, call_id


def assert_restarted(app: AppServerProcess, thread_id: str) -> None:
    """A lost server is restarted for the thread's next step, and says so: a second
    ``starting`` → ``ready`` pair of startup statuses; its status is connected again and a
    direct call reaches the new process."""
    def statuses() -> list[str]:
        return [m["params"]["status"] for m in app.notifications("mcpServer/startupStatus/updated")
                if m["params"]["threadId"] == thread_id and m["params"]["name"] == "echo"]

    result = app.call("mcpServer/tool/call", {"threadId": thread_id, "server": "echo", "tool": "echo",
                                              "arguments": {"message": "anyone?"}})
    assert result["content"][0]["text"] == "ECHOING: anyone?"
    assert statuses() == ["starting", "ready", "starting", "ready"]
    assert runtime_status(app, thread_id, "echo")["runtimeStatus"] == "connected"


def test_mcp_server_killed_mid_call(mcp_home: Path, flaky: FlakyModel) -> None:
    with running_app(mcp_home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        assert app.proc is not None
        wait_until(lambda: len(echo_pids(app.proc.pid)) == 1, what="echo server started")
        turn, call_id = call_in_turn(app, flaky, thread["id"], "slow", {"seconds": 60})
        app.wait_notification("item/started", lambda m: m["params"]["item"]["type"] == "mcpToolCall")
        [pid] = echo_pids(app.proc.pid)
        os.kill(pid, signal.SIGKILL)
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        assert done["params"]["turn"]["status"] == "completed"
        [item] = mcp_items(app, turn["id"])
        assert item["status"] == "failed" and item["error"]["message"], item
        # the model was told: its next request carries the failure as the call's output
        [output] = flaky.requests[-1].items_of_type("function_call_output")
        assert output["call_id"] == call_id and "tool call failed" in json.dumps(output["output"])
        assert agent_texts(app, turn["id"]) == ["tool done"]
        assert_restarted(app, thread["id"])
        assert echo_pids(app.proc.pid) and pid not in echo_pids(app.proc.pid)
        answers_next_turn(app, flaky, thread["id"])


def test_mcp_server_exiting_mid_call(mcp_home: Path, flaky: FlakyModel) -> None:
    with running_app(mcp_home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        turn, _ = call_in_turn(app, flaky, thread["id"], "crash", {"code": 9})
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        assert done["params"]["turn"]["status"] == "completed"
        [item] = mcp_items(app, turn["id"])
        assert item["status"] == "failed"
        assert_restarted(app, thread["id"])
        answers_next_turn(app, flaky, thread["id"])


def test_mcp_server_that_hangs_times_out(mcp_home: Path, flaky: FlakyModel) -> None:
    with running_app(mcp_home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        turn, call_id = call_in_turn(app, flaky, thread["id"], "slow", {"seconds": 3600})
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=60)
        assert done["params"]["turn"]["status"] == "completed"
        [item] = mcp_items(app, turn["id"])
        assert item["status"] == "failed" and "timed out" in json.dumps(item["error"]).lower(), item
        [output] = flaky.requests[-1].items_of_type("function_call_output")
        assert output["call_id"] == call_id and "timed out" in json.dumps(output["output"]).lower()
        # a hung call is not a dead server: the same process still answers
        assert runtime_status(app, thread["id"], "echo")["runtimeStatus"] == "connected"
        result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                                  "arguments": {"message": "still there"}})
        assert result["content"][0]["text"] == "ECHOING: still there"
        error = app.call_error("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "slow",
                                                       "arguments": {"seconds": 3600}}, timeout=60)
        assert error.code == -32603 and "timed out" in error.message.lower()
        answers_next_turn(app, flaky, thread["id"])


def test_tool_call_in_flight_survives_nothing_when_the_app_server_is_killed(mcp_home: Path, flaky: FlakyModel) -> None:
    """The app-server itself dying (SIGKILL) mid-call: its MCP server does not outlive it."""
    app = started_app(mcp_home)
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    assert app.proc is not None
    wait_until(lambda: len(echo_pids(app.proc.pid)) == 1, what="echo server started")
    servers = echo_pids(app.proc.pid)
    call_in_turn(app, flaky, thread["id"], "slow", {"seconds": 60})
    app.wait_notification("item/started", lambda m: m["params"]["item"]["type"] == "mcpToolCall")
    app.kill()

    def gone() -> bool:
        out = []
        for pid in servers:
            try:
                out.append(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
            except psutil.NoSuchProcess:
                out.append(True)
        return all(out)

    wait_until(gone, timeout=20, what="the orphaned MCP server to exit (stdin EOF)")


# --- persistence --------------------------------------------------------------------------


def read_only_command(home: Path) -> list[str]:
    """The app-server in a private mount namespace where ``home`` is a read-only bind mount
    (EROFS even for root, unlike chmod)."""
    from tests.fixtures.app_server import rootstep_command

    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(home), *rootstep_command()]


def file_size_limit_command(limit: int) -> list[str]:
    """The app-server with RLIMIT_FSIZE: writes past ``limit`` bytes fail with EFBIG, which
    is what a full disk looks like to the writer (Python ignores SIGXFSZ)."""
    from tests.fixtures.app_server import rootstep_command

    argv = rootstep_command()
    code = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
            f"os.execv(sys.executable, {argv!r})")
    return [argv[0], "-c", code]


def can_mount_read_only(tmp_path: Path) -> bool:
    import subprocess

    probe = tmp_path / "probe"
    probe.mkdir()
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && ! touch "$0/x" 2>/dev/null'
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(probe)]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_read_only_home(tmp_path: Path, flaky: FlakyModel) -> None:
    if not can_mount_read_only(tmp_path):
        pytest.skip("no private mount namespace here (unshare -m)")
    home = tmp_path / "home"
    write_config(home, flaky)
    before = live_children()
    app = started_app(home)
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    answers_next_turn(app, flaky, thread["id"], "saved answer")
    finish(app, before)

    app = started_app(home, command=read_only_command(home))
    try:
        error = app.call_error("thread/start", {"model": "mock-model"})
        assert error.code == -32600 and "cannot persist the new thread" in error.message
        assert "Read-only file system" in error.message, error.message
        ephemeral = app.call("thread/start", {"model": "mock-model", "ephemeral": True})["thread"]
        answers_next_turn(app, flaky, ephemeral["id"], "ephemeral works")
        app.call("thread/resume", {"threadId": thread["id"]})
        answers_next_turn(app, flaky, thread["id"], "unsaved answer")
        warning = app.wait_notification("warning", lambda m: m["params"].get("threadId") == thread["id"]
                                        and not m["params"]["message"].startswith("Model metadata for"))
        assert "could not save the thread" in warning["params"]["message"]
        assert "Read-only file system" in warning["params"]["message"]
    finally:
        finish(app, before)

    app = started_app(home)
    try:
        resumed = app.call("thread/resume", {"threadId": thread["id"]})["thread"]
        texts = [i.get("text") for t in resumed["turns"] for i in t["items"] if i["type"] == "agentMessage"]
        assert texts == ["saved answer"]  # whole, and nothing torn from the read-only run
        assert [t["status"] for t in resumed["turns"]] == ["completed"]
        answers_next_turn(app, flaky, thread["id"], "writable again")
        # the model sees turn 1 and this one; the turn of the read-only run was never saved
        assert flaky.requests[-1].input_texts() == ["and now?", "and now?"]
    finally:
        finish(app, before)


def test_disk_full_mid_turn_leaves_a_resumable_thread(tmp_path: Path, flaky: FlakyModel) -> None:
    home = tmp_path / "home"
    write_config(home, flaky)
    with running_app(home, command=file_size_limit_command(64 * 1024)) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        answers_next_turn(app, flaky, thread["id"], "fits on disk")
        flaky.queue(assistant_text("answer to a big prompt"))
        big = app.run_turn(thread["id"], "x" * 200_000)
        assert big["status"] == "completed"  # the model still answered
        warning = app.wait_notification("warning", lambda m: m["params"].get("threadId") == thread["id"]
                                        and not m["params"]["message"].startswith("Model metadata for"))
        assert "could not save the thread" in warning["params"]["message"]
        assert "File too large" in warning["params"]["message"]
    [rollout] = list((home / "sessions").rglob("rollout-*.jsonl"))
    assert rollout.stat().st_size <= 64 * 1024
    assert not rollout.read_bytes().endswith(b"\n"), "expected a torn last record (the limit cut a write)"

    with running_app(home) as app:
        resumed = app.call("thread/resume", {"threadId": thread["id"]})["thread"]
        first = resumed["turns"][0]
        assert first["status"] == "completed"
        assert [i.get("text") for i in first["items"] if i["type"] == "agentMessage"] == ["fits on disk"]
        answers_next_turn(app, flaky, thread["id"], "after the disk was freed")
    # the torn record stays isolated: a second resume reads the new turn too
    with running_app(home) as app:
        resumed = app.call("thread/resume", {"threadId": thread["id"]})["thread"]
        texts = [i.get("text") for t in resumed["turns"] for i in t["items"] if i["type"] == "agentMessage"]
        assert texts[0] == "fits on disk" and texts[-1] == "after the disk was freed"


# --- executors ----------------------------------------------------------------------------


@contextmanager
def ws_executor() -> Iterator[str]:
    """``rootstep exec-server --listen ws://127.0.0.1:0``; yields the URL it prints."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "rootstep", "exec-server", "--listen", "ws://127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("ws://"), url
        yield url
    finally:
        proc.kill()
        proc.wait()


def test_executor_killed_mid_turn(tmp_path: Path, flaky: FlakyModel) -> None:
    from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments

    home = tmp_path / "home"
    write_config(home, flaky)
    write_environments(home, ROOTSTEP_EXECUTOR)
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True)
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "executor-demo"}))
    import sys

    from tests.fixtures.mcp_helpers import ECHO_SERVER

    (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {"executor_demo": {
        "command": sys.executable, "args": [ECHO_SERVER], "default_tools_approval_mode": "approve"}}}))
    with running_app(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
        thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
            root("executor-demo@1", "executor-1", plugin)]})["thread"]
        app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
        assert app.proc is not None
        [executor] = [p for p in psutil.Process(app.proc.pid).children() if "exec-server" in " ".join(p.cmdline())]
        flaky.queue(function_call_response("call-x", "slow", json.dumps({"seconds": 60}),
                                           namespace="mcp__executor_demo"),
                    assistant_text("tool done"))
        turn = app.call("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "go"}]})["turn"]
        app.wait_notification("item/started", lambda m: m["params"]["item"]["type"] == "mcpToolCall")
        orphans = executor.children(recursive=True)
        assert orphans, "the plugin's server runs under the executor"
        executor.kill()
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        assert done["params"]["turn"]["status"] == "completed"
        [item] = mcp_items(app, turn["id"])
        assert item["status"] == "failed" and item["error"]["message"], item
        assert "executor_demo" in item["error"]["message"]
        # the server inside the dead executor does not outlive it (parent-death signal)
        wait_until(lambda: all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in orphans),
                   timeout=15, what="the dead executor's children to exit")
        # Status: the dead executor's root is no longer ready, so the thread lists no plugin
        # server, a direct call names the missing server, and the model is not offered the tools.
        assert app.call("mcpServerStatus/list", {"threadId": thread["id"]})["data"] == []
        error = app.call_error("mcpServer/tool/call", {"threadId": thread["id"], "server": "executor_demo",
                                                       "tool": "echo", "arguments": {"message": "x"}})
        assert "executor_demo" in error.message
        answers_next_turn(app, flaky, thread["id"])
        assert "mcp__executor_demo" not in json.dumps(flaky.requests[-1].body["tools"])
        # Recovery: point the environment at a live executor; the plugin comes back.
        with ws_executor() as url:
            app.call("environment/add", {"environmentId": "executor-1", "execServerUrl": url})
            wait_until(lambda: app.call("mcpServerStatus/list", {"threadId": thread["id"]})["data"] != [],
                       timeout=60, interval=0.2, what="the plugin's server back in the thread's status")
            result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "executor_demo",
                                                      "tool": "echo", "arguments": {"message": "back"}})
            assert result["content"][0]["text"] == "ECHOING: back"
            app.call("thread/unsubscribe", {"threadId": thread["id"]})


# --- the client ---------------------------------------------------------------------------


def assert_call_item_closed(app: AppServerProcess, turn_id: str) -> None:
    """The mcpToolCall item a client saw start is completed (failed, with a reason) before
    its turn/completed — a client never keeps a spinner for a call that will not answer."""
    started = app.notifications("item/started")
    calls = [m["params"]["item"] for m in started
             if m["params"]["turnId"] == turn_id and m["params"]["item"]["type"] == "mcpToolCall"]
    assert len(calls) == 1, calls
    completed = [m for m in app.notifications("item/completed")
                 if m["params"]["turnId"] == turn_id and m["params"]["item"]["id"] == calls[0]["id"]]
    assert len(completed) == 1, completed
    item = completed[0]["params"]["item"]
    assert item["status"] == "failed" and "interrupted" in item["error"]["message"], item
    turn_done = next(m for m in app.notifications("turn/completed") if m["params"]["turn"]["id"] == turn_id)
    assert app.index_of(completed[0]) < app.index_of(turn_done)


def test_interrupt_mid_call_keeps_the_server(tmp_path: Path, flaky: FlakyModel) -> None:
    """turn/interrupt while an MCP call runs: the turn ends interrupted at once, the server
    process is not lost (same pid, no restart) and answers the next call."""
    home = tmp_path / "home"
    write_config(home, flaky, extra=echo_server_toml("echo", extra='default_tools_approval_mode = "approve"\n'))
    with running_app(home) as app:
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        assert app.proc is not None
        wait_until(lambda: len(echo_pids(app.proc.pid)) == 1, what="echo server started")
        pids = echo_pids(app.proc.pid)
        turn, _ = call_in_turn(app, flaky, thread["id"], "slow", {"seconds": 600})
        app.wait_notification("item/started", lambda m: m["params"]["item"]["type"] == "mcpToolCall")
        app.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]})
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        assert done["params"]["turn"]["status"] == "interrupted"
        assert_call_item_closed(app, turn["id"])
        assert flaky.pending() == 1  # the answer after the call was never asked for
        with flaky._lock:
            flaky._queue.clear()
        result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                                  "arguments": {"message": "after interrupt"}})
        assert result["content"][0]["text"] == "ECHOING: after interrupt"
        assert echo_pids(app.proc.pid) == pids
        answers_next_turn(app, flaky, thread["id"])


def test_client_gone_with_calls_in_flight(tmp_path: Path, flaky: FlakyModel) -> None:
    """stdin EOF while 200 direct calls (local and executor servers) are in flight: the
    app-server exits 0 and every process it started is gone."""
    from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments, write_plugin

    home = tmp_path / "home"
    write_config(home, flaky, extra=echo_server_toml("local_echo"))
    write_environments(home, ROOTSTEP_EXECUTOR)
    plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids", skill=False, env_vars=False)
    before = live_children()
    app = started_app(home, env={"ROOTSTEP_LOG": "INFO"})
    thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
        root("executor-demo@1", "executor-1", plugin)]})["thread"]["id"]
    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
    for server in ("local_echo", "executor_demo"):  # both up before the storm
        app.call("mcpServer/tool/call", {"threadId": thread, "server": server, "tool": "echo",
                                         "arguments": {"message": "warm"}}, timeout=60)
    lines = [json.dumps({"id": f"slow-{n}", "method": "mcpServer/tool/call", "params": {
        "threadId": thread, "server": ("local_echo", "executor_demo")[n % 2], "tool": "echo",
        "arguments": {"message": f"{n}"}}}) for n in range(200)]
    app.send_raw("\n".join(lines))
    app.close_stdin()
    assert app.proc is not None and app.proc.wait(timeout=30) == 0
    wait_until(lambda: not (live_children() - before), timeout=15, what="every process reaped")


def test_unload_and_archive_mid_call(tmp_path: Path, flaky: FlakyModel) -> None:
    """thread/unsubscribe while a turn waits on an MCP call: the turn ends, its server goes,
    and the resumed thread works; thread/archive mid-call likewise leaves nothing running."""
    home = tmp_path / "home"
    write_config(home, flaky, extra=echo_server_toml("echo", extra='default_tools_approval_mode = "approve"\n'))
    with running_app(home) as app:
        assert app.proc is not None
        for action in ("thread/unsubscribe", "thread/archive"):
            thread = app.call("thread/start", {"model": "mock-model"})["thread"]
            wait_until(lambda: len(echo_pids(app.proc.pid)) == 1, what="echo server started")
            turn, _ = call_in_turn(app, flaky, thread["id"], "slow", {"seconds": 600})
            app.wait_notification("item/started",
                                  lambda m, turn_id=turn["id"]: m["params"]["item"]["type"] == "mcpToolCall"
                                  and m["params"]["turnId"] == turn_id)
            app.call(action, {"threadId": thread["id"]})
            wait_until(lambda: not echo_pids(app.proc.pid), timeout=15, what="the thread's server to exit")
            assert thread["id"] not in app.call("thread/loaded/list", {})["data"]
            # the client is told: the turn ended (interrupted), then the thread went
            closing = "thread/closed" if action == "thread/unsubscribe" else "thread/archived"
            app.wait_notification(closing, lambda m, thread_id=thread["id"]: m["params"]["threadId"] == thread_id)
            told = [m["method"] for m in app.notifications() if m.get("params", {}).get("threadId") == thread["id"]]
            assert told[-2:] == ["turn/completed", closing], told
            done = app.wait_notification("turn/completed",
                                         lambda m, turn_id=turn["id"]: m["params"]["turn"]["id"] == turn_id)
            assert done["params"]["turn"]["status"] == "interrupted"
            assert_call_item_closed(app, turn["id"])
            with flaky._lock:
                flaky._queue.clear()
            if action == "thread/archive":
                app.call("thread/unarchive", {"threadId": thread["id"]})
            resumed = app.call("thread/resume", {"threadId": thread["id"]})["thread"]
            assert resumed["turns"][0]["status"] in ("interrupted", "failed"), resumed["turns"][0]
            answers_next_turn(app, flaky, thread["id"], f"alive after {action}")
            app.call("thread/unsubscribe", {"threadId": thread["id"]})
            wait_until(lambda: not echo_pids(app.proc.pid), timeout=15, what="servers gone")
