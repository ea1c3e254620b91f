"""Differential: one MCP scenario against the reference ``codex app-server`` 0.169 and rootstep.

Same config.toml (the echo server, a broken server), same scripted model: a turn where the
model calls the tool, a direct ``mcpServer/tool/call``, unknown-server/disabled-tool errors,
``mcpServerStatus/list``. What the model receives (the namespace tool, the output) and what the
client sees (items, responses, errors) must match.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.differential import assert_same_keys, run_both
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response

pytestmark = [pytest.mark.reference, pytest.mark.timeout(180)]

CONFIG = f"""
[mcp_servers.echo]
command = {json.dumps(__import__("sys").executable)}
args = [{json.dumps(ECHO_SERVER)}]
env = {{ MARK = "marked" }}
disabled_tools = ["crash"]

[mcp_servers.broken]
command = "/nonexistent/rootstep-mcp-reference-test"

[mcp_servers.off]
command = "/nonexistent/never-started"
enabled = false
"""


def wait_echo_ready(app: AppServerProcess) -> None:
    """Both start servers with the thread; a loaded machine must not decide the first step."""
    app.wait_notification("mcpServer/startupStatus/updated",
                          lambda m: m["params"]["name"] == "echo" and m["params"]["status"] == "ready", timeout=60)


def _scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(
        function_call_response("call-1", "echo", json.dumps({"message": "hello", "env_var": "MARK"}),
                               namespace="mcp__echo"),
        function_call_response("call-2", "slow", json.dumps({"seconds": 0}), namespace="mcp__echo"),
        assistant_text("Done"),
    )
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        wait_echo_ready(app)
        turn = app.run_turn(thread_id, "call echo")
        item, declined = [m["params"]["item"] for m in app.notifications("item/completed")
                          if m["params"]["item"]["type"] == "mcpToolCall"]
        started = next(m["params"]["item"] for m in app.notifications("item/started")
                       if m["params"]["item"]["type"] == "mcpToolCall")
        direct = app.call("mcpServer/tool/call", {"threadId": thread_id, "server": "echo", "tool": "echo",
                                                  "arguments": {"message": "direct", "env_var": "MARK"}})
        unknown = app.call_error("mcpServer/tool/call", {"threadId": thread_id, "server": "nope", "tool": "echo"})
        disabled = app.call_error("mcpServer/tool/call", {"threadId": thread_id, "server": "echo", "tool": "crash"})
        status = app.call("mcpServerStatus/list", {"threadId": thread_id, "detail": "toolsAndAuthOnly"})
        status_full = app.call("mcpServerStatus/list", {"threadId": thread_id})
        status_global = app.call("mcpServerStatus/list", {"limit": 1})
        startup = sorted({(m["params"]["name"], m["params"]["status"])
                          for m in app.notifications("mcpServer/startupStatus/updated")})
        # servers start with the thread, right after thread/started (the reference's order among
        # servers follows a hash map, so only the set is compared)
        started_at = app.index_of(app.notifications("thread/started")[0])
        starting = sorted((app.index_of(m) > started_at, m["params"]["name"])
                          for m in app.notifications("mcpServer/startupStatus/updated")
                          if m["params"]["status"] == "starting")
        broken_error = next(m["params"].get("error") for m in app.notifications("mcpServer/startupStatus/updated")
                            if m["params"]["name"] == "broken" and m["params"]["status"] == "failed")
        app.close()
    first, second, third = model.requests[-3:]
    namespace = next(t for t in first.body["tools"] if t.get("type") == "namespace" and t.get("name") == "mcp__echo")
    [output] = second.items_of_type("function_call_output")
    declined_output = third.items_of_type("function_call_output")[-1]["output"]
    result = {
        "turn": turn["status"],
        "namespace": namespace,
        "output": re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: N seconds", output["output"]),
        "started": {k: started.get(k)
                    for k in ("id", "server", "tool", "status", "arguments", "result", "error", "durationMs")},
        "item": {k: item.get(k) for k in ("id", "server", "tool", "status", "arguments", "error", "pluginId")},
        "item_result": item["result"],
        # `slow` is not read-only: approval policy never + read-only sandbox declines it
        "declined": {k: declined.get(k) for k in ("status", "error", "result")},
        "declined_output": json.loads(re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: N seconds",
                                             json.dumps(declined_output))),
        "direct": direct,
        "unknown": (unknown.code, unknown.message),
        "disabled": (disabled.code, disabled.message),
        "status": [(s["name"], sorted(s["tools"]), s["authStatus"], s["serverInfo"] and s["serverInfo"]["name"])
                   for s in status["data"]],
        "status_full": status_full,
        "status_global": status_global,
        "startup": startup,
        "starting": starting,
        "broken_error_prefix": (
            (broken_error or "")[: len("MCP client for `broken` failed to start: MCP startup failed:")]
        ),
    }
    # thread ids differ between the runs; everything else must not
    return json.loads(json.dumps(result).replace(thread_id, "<thread>"))


def test_mcp_scenario_matches_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    assert_same_keys(*run_both(reference_codex, tmp_path, _scenario, extra=CONFIG))


def _timeout_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(function_call_response("call-t", "slow", json.dumps({"seconds": 30}), namespace="mcp__echo"),
                function_call_response("call-f", "fail", "{}", namespace="mcp__echo"),
                function_call_response("call-i", "image", "{}", namespace="mcp__echo"),
                function_call_response("call-b", "big", json.dumps({"bytes": 200_000}), namespace="mcp__echo"),
                assistant_text("Done"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        wait_echo_ready(app)
        app.run_turn(thread_id, "be slow")
        items = {m["params"]["item"]["id"]: m["params"]["item"] for m in app.notifications("item/completed")
                 if m["params"]["item"]["type"] == "mcpToolCall"}
        assert set(items) == {"call-t", "call-f", "call-i", "call-b"}, (command[0], sorted(items))
        item = items["call-t"]
        app.close()
    outputs = {o["call_id"]: o["output"] for o in model.requests[-1].items_of_type("function_call_output")}
    header, error = outputs["call-t"]  # both answer a failed call with [header, error] input_text items
    def normalized(output: Any) -> Any:
        return json.loads(re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: N seconds", json.dumps(output)))
    big = outputs["call-b"]
    return {
        "header": re.sub(r"[0-9.]+ seconds", "N seconds", header["text"]),
        # the reference appends a stack backtrace after the cause
        "error": error["text"].split("\n\nStack backtrace")[0],
        "item": {k: item.get(k) for k in ("status", "result")},
        "item_error": item["error"]["message"].split("\n\nStack backtrace")[0],
        # text-only and image results: [header, input items]; an isError result reads the same
        "fail": normalized(outputs["call-f"]),
        "image": normalized(outputs["call-i"]),
        "fail_item": {k: items["call-f"].get(k) for k in ("status", "error", "result")},
        # a huge text is cut to about the same size
        "big_shape": [b["type"] for b in big],
        "big_size_kb": round(len(big[1]["text"]) / 1000),
    }


def test_full_access_calls_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    config = CONFIG.replace('disabled_tools = ["crash"]', 'disabled_tools = ["crash"]\ntool_timeout_sec = 1')

    def full_access(home: Path) -> None:  # non-read-only tools run without approval
        path = home / "config.toml"
        path.write_text(path.read_text().replace('sandbox_mode = "read-only"', 'sandbox_mode = "danger-full-access"'))

    ref, ours = run_both(reference_codex, tmp_path, _timeout_scenario, extra=config, prepare=full_access)
    assert ours == ref
    assert ours["error"] == (
        "tool call error: tool call failed for `echo/slow`\n\n"
        "Caused by:\n    timed out awaiting tools/call after 1000ms"
    )
