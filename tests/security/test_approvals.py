"""Approval prompts go only to a thread's followers (issue 16, item 14).

When a thread's only follower disconnected, its next question (an approval prompt, a server's
elicitation) went to every other client, and one of them approved a tool on a thread it never
followed. Now a question goes to the thread's followers only; with none, it is declined.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.e2e.test_listeners import ELICIT, WsClient, no_leaks, start  # noqa: F401 - fixtures
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, write_config

pytestmark = pytest.mark.timeout(120)


def test_a_question_never_goes_to_a_client_that_does_not_follow_the_thread(
    tmp_path: Path, model: MockModel, no_leaks: None  # noqa: F811 - pytest fixture
) -> None:
    home = tmp_path / "home"
    write_config(home, model, extra=(f"\n[mcp_servers.echo]\ncommand = {json.dumps(sys.executable)}\n"
                                     f"args = [{json.dumps(ECHO_SERVER)}]\n"
                                     'env = { MCP_TEST_FOLLOWUP_TOOLS = "1" }\n'))
    server = start(home, "ws://127.0.0.1:0")
    try:
        url = server.url()
        owner, intruder = WsClient(home, connect(url, legacy=True)), WsClient(home, connect(url, legacy=True))
        owner.initialize(name="owner")
        intruder.initialize(name="intruder")
        thread_id = owner.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        owner.close()  # the only follower goes; the thread stays loaded

        elicit = {"threadId": thread_id, "server": "echo", "tool": "elicit", "arguments": {"mode": "form"}}
        result = intruder.call("mcpServer/tool/call", elicit, timeout=60)
        assert result["content"][0]["text"].startswith("decline")  # nobody to ask: declined
        assert [m for m in intruder.messages if m.get("method") == ELICIT] == []

        # Once it follows the thread, it is asked.
        intruder.call("thread/resume", {"threadId": thread_id})
        call = intruder.request("mcpServer/tool/call", elicit)
        asked = intruder.wait_for(lambda m: m.get("method") == ELICIT and "id" in m, what=ELICIT, timeout=60)
        intruder.send({"id": asked["id"], "result": {"action": "accept", "content": {"color": "red"}}})
        assert intruder.wait_response(call)["result"]["content"][0]["text"] == 'accept:{"color": "red"}'

        assert server.terminate() == 0
        intruder.wait_closed()
        intruder.assert_schema_clean()
    finally:
        server.kill()
