"""E2E through the app-server process: an MCP tool call in a turn, status list, direct calls,
reload adding a server, and no MCP child left after shutdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess, checked_app_server, text
from tests.fixtures.mcp_helpers import alive, echo_server_toml, read_pids
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

pytestmark = pytest.mark.timeout(120)


def server_toml(name: str, pid_file: Path, **extra: str) -> str:
    return echo_server_toml(name, env={"MCP_TEST_PID_FILE": str(pid_file), "MARK": "marked", **extra})


@pytest.fixture
def home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model, extra=server_toml("echo", tmp_path / "echo.pids")
                 + "\n[mcp_servers.broken]\ncommand = \"/nonexistent/rootstep-mcp-test\"\n")
    return home


@pytest.fixture
def app(home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(home) as server:
        yield server


def test_turn_calls_the_mcp_tool_and_the_next_request_carries_the_output(
    app: AppServerProcess, model: MockModel, tmp_path: Path
):
    model.queue(
        function_call_response("call-echo", "echo", json.dumps({"message": "hello", "env_var": "MARK"}),
                               namespace="mcp__echo"),
        assistant_text("Done"),
    )
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    app.call("turn/start", {"threadId": thread["id"], "input": [text("call the tool")]})
    done = app.wait_notification("turn/completed", timeout=60)
    assert done["params"]["turn"]["status"] == "completed"

    first, second = model.wait_for_requests(2)
    namespace = next(t for t in first.body["tools"] if t.get("type") == "namespace" and t["name"] == "mcp__echo")
    assert any(t["name"] == "echo" for t in namespace["tools"])
    assert not any(t.get("name") == "mcp__broken" for t in first.body["tools"])
    [output] = second.items_of_type("function_call_output")
    assert output["call_id"] == "call-echo"
    assert "ECHOING: hello" in output["output"] and "marked" in output["output"]

    completed = [m["params"]["item"] for m in app.notifications("item/completed")
                 if m["params"]["item"]["type"] == "mcpToolCall"]
    [item] = completed
    assert item["status"] == "completed" and item["server"] == "echo" and item["tool"] == "echo"
    assert item["result"]["structuredContent"]["echo"] == "ECHOING: hello"
    statuses = {(m["params"]["name"], m["params"]["status"])
                for m in app.notifications("mcpServer/startupStatus/updated")}
    assert {("echo", "starting"), ("echo", "ready"), ("broken", "starting"), ("broken", "failed")} <= statuses
    broken = next(m for m in app.notifications("mcpServer/startupStatus/updated")
                  if m["params"]["name"] == "broken" and m["params"]["status"] == "failed")
    assert broken["params"]["error"].startswith("MCP client for `broken` failed to start: MCP startup failed:")
    assert broken["params"]["threadId"] == thread["id"]


def test_status_list_direct_call_and_reload(app: AppServerProcess, home: Path, tmp_path: Path):
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    listed = app.call("mcpServerStatus/list", {"threadId": thread["id"]})
    assert [s["name"] for s in listed["data"]] == ["broken", "echo"] and listed["nextCursor"] is None
    echo = listed["data"][1]
    assert "echo" in echo["tools"] and echo["authStatus"] == "unsupported"
    assert listed["data"][0]["tools"] == {}

    result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                              "arguments": {"message": "direct", "env_var": "MARK"}})
    assert result == {"content": [{"type": "text", "text": "ECHOING: direct"}],
                      "structuredContent": {"echo": "ECHOING: direct", "env": "marked", "threadId": thread["id"]},
                      "isError": False}
    error = app.call_error("mcpServer/tool/call", {"threadId": thread["id"], "server": "nope", "tool": "echo"})
    assert error.code == -32603 and "unknown MCP server 'nope'" in error.message
    error = app.call_error("mcpServer/tool/call", {"threadId": "no-such-thread", "server": "echo", "tool": "echo"})
    assert "thread not found" in error.message
    error = app.call_error("mcpServerStatus/list", {"cursor": "zz"})
    assert "invalid cursor: zz" in error.message

    with (home / "config.toml").open("a") as fh:
        fh.write(server_toml("refresh_probe", tmp_path / "probe.pids"))
    assert app.call("config/mcpServer/reload", omit_params=True) == {}
    # applied at the next step: a direct call captures the new runtime
    result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "refresh_probe", "tool": "echo",
                                              "arguments": {"message": "probe"}})
    assert result["structuredContent"]["echo"] == "ECHOING: probe"
    # the unchanged server answers too, and exactly one of its processes is alive (a runtime
    # that rebuilds everything reaps the old one; one that keeps unchanged servers keeps it)
    result = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                              "arguments": {"message": "still"}})
    assert result["structuredContent"]["echo"] == "ECHOING: still"
    assert sum(alive(pid) for pid in read_pids(tmp_path / "echo.pids")) == 1
    global_list = app.call("mcpServerStatus/list", {"limit": 2})
    assert [s["name"] for s in global_list["data"]] == ["broken", "echo"] and global_list["nextCursor"] == "2"


def test_a_failing_required_server_fails_thread_start(tmp_path: Path, model: MockModel):
    home = tmp_path / "req-home"
    write_config(home, model, extra=server_toml("needed", tmp_path / "needed.pids") + "required = true\n"
                 + "\n[mcp_servers.required_broken]\ncommand = \"/nonexistent/rootstep-required\"\nrequired = true\n")
    before = descendants()
    with AppServerProcess(home) as app:
        app.initialize()
        error = app.call_error("thread/start", {"model": "mock-model"})
        assert ("required MCP servers failed to initialize: required_broken: MCP client for `required_broken` failed"
                in error.message)
        [pid] = read_pids(tmp_path / "needed.pids")
        assert not alive(pid), "the healthy required server of the failed thread is reaped"
        app.assert_schema_clean()
        assert app.close() == 0
    assert not (descendants() - before)


def test_healthy_required_servers_are_ready_before_thread_start_answers(tmp_path: Path, model: MockModel):
    home = tmp_path / "ok-home"
    write_config(home, model, extra=server_toml("needed", tmp_path / "needed.pids") + "required = true\n")
    with AppServerProcess(home) as app:
        app.initialize()
        request = app.request("thread/start", {"model": "mock-model"})
        response = app.wait_response(request)
        ready = app.wait_notification("mcpServer/startupStatus/updated", lambda m: m["params"]["status"] == "ready")
        assert app.index_of(ready) < app.index_of(response)
        app.assert_schema_clean()
        assert app.close() == 0


def test_unloading_a_thread_reaps_its_mcp_servers(app: AppServerProcess, tmp_path: Path):
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    app.wait_notification("mcpServer/startupStatus/updated",
                          lambda m: m["params"]["name"] == "echo" and m["params"]["status"] == "ready")
    [pid] = read_pids(tmp_path / "echo.pids")
    assert alive(pid)
    assert app.call("thread/unsubscribe", {"threadId": thread["id"]})["status"] == "unsubscribed"
    assert not alive(pid), "the thread's MCP server is gone once the thread is unloaded"
