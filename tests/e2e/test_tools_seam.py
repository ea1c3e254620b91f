"""A tools provider plugged into the app-server process serves a namespaced call in a turn."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response

pytestmark = pytest.mark.timeout(60)


def test_plugged_provider_runs_mcp_call(codex_home: Path, model: MockModel) -> None:
    model.queue(
        function_call_response("call-1", "echo", '{"message": "hello"}', namespace="mcp__pyecho"),
        assistant_text("Done"),
    )
    env = {"ROOTSTEP_TOOLS_FACTORY": "tests.e2e.tools_plugin:factory",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with AppServerProcess(codex_home, env=env) as app:
        app.initialize()
        thread_id = app.call("thread/start", {})["thread"]["id"]
        turn = app.run_turn(thread_id, "Call echo")
        assert turn["status"] == "completed"
        started = [m["params"]["item"] for m in app.notifications("item/started")]
        completed = [m["params"]["item"] for m in app.notifications("item/completed")]
        assert [i["type"] for i in started] == ["userMessage", "mcpToolCall", "agentMessage"]
        call = completed[1]
        assert call["id"] == "call-1" and call["server"] == "pyecho" and call["status"] == "completed"
        assert call["arguments"] == {"message": "hello"} and call["pluginId"] == "demo@1"
        assert call["result"]["structuredContent"] == {"echo": "ECHOING: hello"}
        app.assert_schema_clean()
        assert app.close() == 0
    first, second = model.requests
    assert first.other_tools()[0]["name"] == "mcp__pyecho"
    assert second.items_of_type("function_call")[0]["namespace"] == "mcp__pyecho"
    assert second.items_of_type("function_call_output")[0]["output"] == "ECHOING: hello"
