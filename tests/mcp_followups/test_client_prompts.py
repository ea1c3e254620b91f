"""E2E through the app-server process: the client is asked (``mcpServer/elicitation/request``)
to approve MCP tool calls under ``on-request``, servers' elicitations reach it and its answers
reach the server, and a server's ``tools/list_changed`` shows up at the next step."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess, checked_app_server, text
from tests.fixtures.mcp_helpers import alive, echo_server_toml, read_pids
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

pytestmark = pytest.mark.timeout(120)
ELICIT = "mcpServer/elicitation/request"


def server_toml(name: str, pid_file: Path, **extra: str) -> str:
    return echo_server_toml(name, env={"MCP_TEST_PID_FILE": str(pid_file), "MCP_TEST_FOLLOWUP_TOOLS": "1", **extra})


@pytest.fixture
def home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model, extra=server_toml("echo", tmp_path / "echo.pids"))
    return home


@pytest.fixture
def app(home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(home) as server:
        yield server


def gone(pid: int, within: float = 30.0) -> bool:
    """Whether ``pid`` ends (or is a zombie) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def server_request(app: AppServerProcess) -> dict[str, Any]:
    return app.wait_for(lambda m: m.get("method") == ELICIT and "id" in m, what=ELICIT, timeout=60)


def answer(app: AppServerProcess, request: dict[str, Any], result: dict[str, Any]) -> None:
    app.send({"id": request["id"], "result": result})


def mcp_items(app: AppServerProcess) -> list[dict[str, Any]]:
    return [m["params"]["item"] for m in app.notifications("item/completed")
            if m["params"]["item"]["type"] == "mcpToolCall"]


def output_text(request: Any) -> str:
    output = request.items_of_type("function_call_output")[-1]  # the latest call's output
    value = output["output"]
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("action", ["accept", "decline", "cancel"])
def test_on_request_asks_the_client_before_a_non_read_only_call(app: AppServerProcess, model: MockModel, action: str):
    model.queue(
        function_call_response("call-slow", "slow", json.dumps({"seconds": 0}), namespace="mcp__echo"),
        assistant_text("Done"),
    )
    thread = app.call("thread/start", {"model": "mock-model", "approvalPolicy": "on-request"})["thread"]
    turn = app.call("turn/start", {"threadId": thread["id"], "input": [text("call slow")]})["turn"]

    request = server_request(app)
    assert request["id"] == 0  # the first server→client request of the process
    params = request["params"]
    assert params == {
        "threadId": thread["id"],
        "turnId": turn["id"],
        "serverName": "echo",
        "mode": "form",
        "_meta": {
            "codex_approval_kind": "mcp_tool_call",
            "persist": ["session", "always"],
            "tool_name": "slow",
            "tool_description": "Sleep for `seconds`, then answer.",
            "tool_params": {"seconds": 0},
            "tool_params_display": [{"name": "seconds", "value": 0, "display_name": "seconds"}],
        },
        "message": 'Allow the echo MCP server to run tool "slow"?',
        "requestedSchema": {"type": "object", "properties": {}},
    }
    # the call waits for the answer: the item started but did not complete
    assert not mcp_items(app)
    answer(app, request, {"action": action})
    done = app.wait_notification("turn/completed", timeout=60)
    assert done["params"]["turn"]["status"] == "completed"

    _first, second = model.wait_for_requests(2)
    [item] = mcp_items(app)
    if action == "accept":
        assert "slept 0" in output_text(second)
        assert item["status"] == "completed"
    else:
        reason = "user rejected MCP tool call" if action == "decline" else "user cancelled MCP tool call"
        assert reason in output_text(second) and "slept" not in output_text(second)
        assert item["status"] == "failed" and item["error"]["message"] == reason


def test_read_only_tools_and_policy_never_do_not_ask(app: AppServerProcess, model: MockModel):
    model.queue(
        function_call_response("c1", "echo", json.dumps({"message": "hi"}), namespace="mcp__echo"),
        assistant_text("Done"),
        function_call_response("c2", "slow", json.dumps({"seconds": 0}), namespace="mcp__echo"),
        assistant_text("Done"),
    )
    thread = app.call("thread/start", {"model": "mock-model", "approvalPolicy": "on-request"})["thread"]
    assert app.run_turn(thread["id"], "echo")["status"] == "completed"
    never = app.call("thread/start", {"model": "mock-model", "approvalPolicy": "never"})["thread"]
    assert app.run_turn(never["id"], "slow")["status"] == "completed"
    requests = model.wait_for_requests(4)
    assert "ECHOING: hi" in output_text(requests[1])
    assert "approval policy is never" in output_text(requests[3])
    assert not [m for m in app.messages if m.get("method") == ELICIT]


def test_server_elicitation_round_trips_form_and_url(app: AppServerProcess):
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    call = app.request("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "elicit",
                                               "arguments": {"mode": "form"}})
    request = server_request(app)
    assert request["params"] == {
        "threadId": thread["id"], "turnId": None, "serverName": "echo", "mode": "form", "_meta": None,
        "message": "Pick a color",
        "requestedSchema": {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]},
    }
    answer(app, request, {"action": "accept", "content": {"color": "blue"}})
    result = app.wait_response(call)["result"]
    assert result["content"] == [{"type": "text", "text": 'accept:{"color": "blue"}'}]

    call = app.request("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "elicit",
                                               "arguments": {"mode": "url"}})
    request = server_request(app)
    params = request["params"]
    assert (params["mode"], params["url"], params["elicitationId"], params["message"]) == (
        "url", "https://example.test/verify", "elicit-1", "Verify your account")
    answer(app, request, {"action": "decline"})
    assert app.wait_response(call)["result"]["content"] == [{"type": "text", "text": "decline:null"}]


def test_elicitation_in_flight_survives_a_runtime_rebuild(app: AppServerProcess, home: Path, tmp_path: Path):
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    call = app.request("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "elicit",
                                               "arguments": {"mode": "form"}})
    request = server_request(app)
    [old_pid] = read_pids(tmp_path / "echo.pids")

    # A changed config: the next capture builds a new runtime with a new echo process.
    config = (home / "config.toml").read_text()
    (home / "config.toml").write_text(config.replace('MCP_TEST_FOLLOWUP_TOOLS = "1"',
                                                     'MCP_TEST_FOLLOWUP_TOOLS = "1", CHANGED = "yes"'))
    assert app.call("config/mcpServer/reload", omit_params=True) == {}
    fresh = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                             "arguments": {"message": "new runtime"}})
    assert fresh["structuredContent"]["echo"] == "ECHOING: new runtime"
    pids = read_pids(tmp_path / "echo.pids")
    assert len(pids) == 2 and alive(old_pid)  # the old manager is kept for the waiting call

    answer(app, request, {"action": "accept", "content": {"color": "green"}})
    result = app.wait_response(call)["result"]
    assert result["content"] == [{"type": "text", "text": 'accept:{"color": "green"}'}]
    # the old manager goes once its last call is done; the new one keeps serving
    assert gone(old_pid)
    again = app.call("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "echo",
                                             "arguments": {"message": "still here"}})
    assert again["structuredContent"]["echo"] == "ECHOING: still here"


def test_tools_list_changed_reaches_the_next_step_without_a_restart(
    app: AppServerProcess, model: MockModel, tmp_path: Path
):
    model.queue(
        function_call_response("c-grow", "grow", "{}", namespace="mcp__echo"),
        function_call_response("c-grown", "grown", "{}", namespace="mcp__echo"),
        assistant_text("Done"),
    )
    thread = app.call("thread/start", {"model": "mock-model"})["thread"]
    assert app.run_turn(thread["id"], "grow")["status"] == "completed"
    first, second, third = model.wait_for_requests(3)

    def echo_tools(request: Any) -> list[str]:
        namespace = next(t for t in request.body["tools"] if t.get("type") == "namespace" and t["name"] == "mcp__echo")
        return [t["name"] for t in namespace["tools"]]

    assert "grown" not in echo_tools(first)
    assert "grown" in echo_tools(second)
    assert "grown called" in output_text(third)
    assert len(read_pids(tmp_path / "echo.pids")) == 1  # same process: no restart, no rebuild
    starts = [m for m in app.notifications("mcpServer/startupStatus/updated") if m["params"]["status"] == "starting"]
    assert len(starts) == 1
