"""Remembered MCP tool-call approvals ("Allow for this session" / "Allow and don't ask me again").

E2E through the app-server process (real echo MCP server, mock model): the approval prompt
advertises ``_meta.persist``; ``persist: "session"`` lets later calls of that tool in that
thread run without a prompt (other tools and other threads are still asked); ``"always"``
writes ``approval_mode = "approve"`` into config.toml (comments kept) so a new process runs the
tool without asking; a plain accept or a decline remembers nothing. The router-level and pure
parts (selected-root servers, label answers, approval modes) are checked directly, and the
prompt's ``_meta`` against the reference binary when it is installed.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from rootstep.mcp.approval_memory import (
    PERSIST_ALWAYS,
    PERSIST_SESSION,
    ApprovalKey,
    Decision,
    normalize,
    parse_decision,
    persist_options,
    persistent_key,
    session_key,
)
from rootstep.mcp.elicitation import (
    USER_CANCELLED,
    USER_REJECTED,
    ElicitationRequestParams,
    ElicitationResponse,
    ElicitationRouter,
)
from tests.fixtures.app_server import AppServerProcess, checked_app_server, text
from tests.fixtures.differential import run_both
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

pytestmark = pytest.mark.timeout(120)
ELICIT = "mcpServer/elicitation/request"
NS = "mcp__echo"
COMMENT = "# the echo server: approvals below are written by rootstep"


def echo_toml() -> str:
    return (
        f"\n{COMMENT}\n[mcp_servers.echo]\ncommand = {json.dumps(sys.executable)}  # same python\n"
        f"args = [{json.dumps(ECHO_SERVER)}]\n\n# a trailing table\n[shell_environment_policy]\ninherit = \"all\"\n"
    )



@pytest.fixture
def home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model, extra=echo_toml())
    return home


@pytest.fixture
def app(home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(home) as server:
        yield server


def start_thread(app: AppServerProcess) -> str:
    return app.call("thread/start", {"model": "mock-model", "approvalPolicy": "on-request"})["thread"]["id"]


def start_turn(app: AppServerProcess, thread_id: str) -> str:
    return app.call("turn/start", {"threadId": thread_id, "input": [text("go")]})["turn"]["id"]


def next_prompt(app: AppServerProcess) -> dict[str, Any]:
    return app.wait_for(lambda m: m.get("method") == ELICIT and "id" in m, what=ELICIT, timeout=60)


def answer(app: AppServerProcess, request: dict[str, Any], result: dict[str, Any]) -> None:
    app.send({"id": request["id"], "result": result})


def wait_turn(app: AppServerProcess, turn_id: str) -> dict[str, Any]:
    done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn_id, timeout=60)
    return done["params"]["turn"]


def prompts(app: AppServerProcess) -> list[dict[str, Any]]:
    return [m for m in app.messages if m.get("method") == ELICIT and "id" in m]


def mcp_items(app: AppServerProcess, thread_id: str) -> list[tuple[str, str, str | None]]:
    """(tool, status, error message) of the thread's completed mcpToolCall items, in order."""
    return [
        (item["tool"], item["status"], (item.get("error") or {}).get("message"))
        for m in app.notifications("item/completed")
        if m["params"]["threadId"] == thread_id and (item := m["params"]["item"])["type"] == "mcpToolCall"
    ]


def slow(call_id: str) -> Any:
    return function_call_response(call_id, "slow", json.dumps({"seconds": 0}), namespace=NS)


def big(call_id: str) -> Any:
    return function_call_response(call_id, "big", json.dumps({"bytes": 3}), namespace=NS)


def approval_mode_in(home: Path, tool: str) -> Any:
    config = tomllib.loads((home / "config.toml").read_text())
    return config["mcp_servers"]["echo"].get("tools", {}).get(tool, {}).get("approval_mode")


# --- e2e -------------------------------------------------------------------------------------------


def test_accept_for_session_runs_that_tool_again_without_a_prompt_in_that_thread_only(
    app: AppServerProcess, model: MockModel, home: Path
):
    config_before = (home / "config.toml").read_text()
    model.queue(slow("c1"), slow("c2"), big("c3"), assistant_text("Done"), slow("c4"), assistant_text("Done"))
    thread_a = start_thread(app)
    turn = start_turn(app, thread_a)

    first = next_prompt(app)
    assert first["params"]["threadId"] == thread_a
    assert first["params"]["_meta"]["persist"] == [PERSIST_SESSION, PERSIST_ALWAYS]
    answer(app, first, {"action": "accept", "_meta": {"persist": "session"}})
    # c2 (slow again) runs unasked; the next prompt is c3's, for another tool
    second = next_prompt(app)
    assert second["params"]["message"] == 'Allow the echo MCP server to run tool "big"?'
    answer(app, second, {"action": "accept"})
    assert wait_turn(app, turn)["status"] == "completed"
    assert mcp_items(app, thread_a) == [("slow", "completed", None)] * 2 + [("big", "completed", None)]
    assert len(prompts(app)) == 2

    # another thread of the same process is asked again
    thread_b = start_thread(app)
    turn_b = start_turn(app, thread_b)
    third = next_prompt(app)
    assert third["params"]["threadId"] == thread_b
    assert third["params"]["message"] == 'Allow the echo MCP server to run tool "slow"?'
    answer(app, third, {"action": "decline"})
    assert wait_turn(app, turn_b)["status"] == "completed"
    assert mcp_items(app, thread_b) == [("slow", "failed", USER_REJECTED)]
    # "session" never touches config.toml
    assert (home / "config.toml").read_text() == config_before


def test_always_writes_config_toml_and_a_new_process_does_not_ask(app: AppServerProcess, model: MockModel, home: Path):
    model.queue(slow("c1"), slow("c2"), assistant_text("Done"), slow("c3"), assistant_text("Done"))
    thread_id = start_thread(app)
    turn = start_turn(app, thread_id)
    answer(app, next_prompt(app), {"action": "accept", "_meta": {"persist": "always"}})
    assert wait_turn(app, turn)["status"] == "completed"
    # the same thread does not ask again (c2), nor a new thread of this process (c3), like the
    # reference (its threads re-read config.toml)
    assert mcp_items(app, thread_id) == [("slow", "completed", None)] * 2
    other = start_thread(app)
    assert wait_turn(app, start_turn(app, other))["status"] == "completed"
    assert mcp_items(app, other) == [("slow", "completed", None)]
    assert len(prompts(app)) == 1
    # the setting is in config.toml, comments kept where they were
    written = (home / "config.toml").read_text()
    assert COMMENT in written and "# same python" in written
    assert "# a trailing table\n[shell_environment_policy]" in written  # still above its table
    assert approval_mode_in(home, "slow") == "approve"
    assert approval_mode_in(home, "big") is None

    model.queue(slow("n1"), big("n2"), assistant_text("Done"))
    with checked_app_server(home) as fresh:
        fresh_thread = start_thread(fresh)
        fresh_turn = start_turn(fresh, fresh_thread)
        # only `big` is asked: `slow` is approved by config.toml now
        request = next_prompt(fresh)
        assert request["params"]["message"] == 'Allow the echo MCP server to run tool "big"?'
        answer(fresh, request, {"action": "cancel"})
        assert wait_turn(fresh, fresh_turn)["status"] == "completed"
        assert mcp_items(fresh, fresh_thread) == [("slow", "completed", None), ("big", "failed", USER_CANCELLED)]
        assert len(prompts(fresh)) == 1


def test_a_plain_accept_or_a_decline_remembers_nothing(app: AppServerProcess, model: MockModel, home: Path):
    config_before = (home / "config.toml").read_text()
    model.queue(slow("c1"), slow("c2"), slow("c3"), assistant_text("Done"))
    thread_id = start_thread(app)
    turn = start_turn(app, thread_id)
    answer(app, next_prompt(app), {"action": "accept"})
    # a decline carrying a persist choice is still a decline, and remembers nothing
    answer(app, next_prompt(app), {"action": "decline", "_meta": {"persist": "always"}})
    last = next_prompt(app)
    assert last["params"]["_meta"]["persist"] == [PERSIST_SESSION, PERSIST_ALWAYS]
    answer(app, last, {"action": "accept"})
    assert wait_turn(app, turn)["status"] == "completed"
    assert mcp_items(app, thread_id) == [
        ("slow", "completed", None), ("slow", "failed", USER_REJECTED), ("slow", "completed", None)]
    assert len(prompts(app)) == 3
    assert (home / "config.toml").read_text() == config_before


def test_a_selected_root_server_offers_session_only_and_always_is_remembered_for_the_thread(tmp_path: Path):
    """A plugin's server is not in config.toml: the reference offers "session" only and an
    "always" answer is kept for the session; config.toml is not written."""
    from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments, write_plugin

    home = tmp_path / "home"
    with MockModel() as model:
        write_config(home, model)
        write_environments(home, ROOTSTEP_EXECUTOR)
        config_before = (home / "config.toml").read_text()
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids.txt", skill=False)
        with checked_app_server(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            thread_id = app.call("thread/start", {
                "model": "mock-model", "approvalPolicy": "on-request",
                "selectedCapabilityRoots": [root("executor-demo@1", "executor-1", plugin)],
            })["thread"]["id"]
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
            call = json.dumps({"seconds": 0})
            model.queue(function_call_response("p1", "slow", call, namespace="mcp__executor_demo"),
                        function_call_response("p2", "slow", call, namespace="mcp__executor_demo"),
                        assistant_text("Done"))
            turn = start_turn(app, thread_id)
            request = next_prompt(app)
            assert request["params"]["serverName"] == "executor_demo"
            assert request["params"]["_meta"]["persist"] == PERSIST_SESSION
            answer(app, request, {"action": "accept", "_meta": {"persist": "always"}})
            assert wait_turn(app, turn)["status"] == "completed"
            assert mcp_items(app, thread_id) == [("slow", "completed", None)] * 2
            assert len(prompts(app)) == 1
        assert (home / "config.toml").read_text() == config_before


# --- the router (one thread's memory), with an in-process client --------------------------------

TOOL = types.Tool(name="write", description="Writes.", input_schema={"type": "object"})


class Client:
    """Answers each prompt with the next queued answer and records what it was asked."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.asked: list[ElicitationRequestParams] = []

    async def __call__(self, params: ElicitationRequestParams) -> ElicitationResponse:
        self.asked.append(params)
        return ElicitationResponse.model_validate(self.answers.pop(0))


def approve(router: ElicitationRouter, tool: types.Tool = TOOL, **kw: Any) -> str | None:
    async def run() -> str | None:
        return await router.approve_tool_call("files", tool, {"path": "a"}, turn_id="u", call_id="c9", **kw)

    return anyio.run(run)


def files_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[mcp_servers.files]\ncommand = "files-server"\n')
    return path


def test_selected_root_servers_offer_session_only_and_always_is_not_written(tmp_path: Path):
    path = files_config(tmp_path)
    client = Client({"action": "accept", "_meta": {"persist": "always"}})
    router = ElicitationRouter("t", client, config_path=path)
    assert approve(router, selected_root=True) is None
    assert client.asked[0].meta["persist"] == PERSIST_SESSION
    assert "tools" not in path.read_text()  # a plugin's server is not in config.toml
    # ...but the thread remembers it for the session, like the reference's fallback
    assert approve(router, selected_root=True) is None and len(client.asked) == 1


def test_prompt_mode_tools_offer_nothing_and_are_asked_every_time(tmp_path: Path):
    path = files_config(tmp_path)
    client = Client({"action": "accept", "_meta": {"persist": "session"}}, {"action": "decline"})
    router = ElicitationRouter("t", client, config_path=path)
    assert approve(router, approval_mode="prompt") is None
    assert "persist" not in client.asked[0].meta
    assert approve(router, approval_mode="prompt") == USER_REJECTED
    assert len(client.asked) == 2


def test_always_for_a_server_not_in_config_toml_is_remembered_for_the_session(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[mcp_servers.other]\ncommand = "x"\n')
    client = Client({"action": "accept", "content": {"mcp_tool_call_approval_c9": "Allow and don't ask me again"}})
    router = ElicitationRouter("t", client, config_path=path)
    assert approve(router) is None
    assert path.read_text() == '[mcp_servers.other]\ncommand = "x"\n'
    assert approve(router) is None and len(client.asked) == 1
    # another thread's router does not know it
    other = ElicitationRouter("t2", Client({"action": "cancel"}), config_path=path)
    assert approve(other) == USER_CANCELLED


# --- pure decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "content", "meta", "expected"),
    [
        ("accept", None, None, Decision.ACCEPT),
        ("accept", None, {"persist": "session"}, Decision.ACCEPT_FOR_SESSION),
        ("accept", None, {"persist": "always"}, Decision.ACCEPT_AND_REMEMBER),
        ("accept", None, {"persist": ["session"]}, Decision.ACCEPT),  # only a string selects
        ("accept", {"q": "Allow for this session"}, None, Decision.ACCEPT_FOR_SESSION),
        ("accept", {"q": ["Allow and don't ask me again"]}, None, Decision.ACCEPT_AND_REMEMBER),
        ("accept", {"q": "Allow"}, None, Decision.ACCEPT),
        ("accept", {"q": "__codex_mcp_decline__"}, None, Decision.DECLINE),
        ("accept", {"q": "something else"}, None, Decision.ACCEPT),
        ("accept", {"other": "Allow for this session"}, None, Decision.ACCEPT),
        ("accept", {"q": "Allow for this session"}, {"persist": "always"}, Decision.ACCEPT_AND_REMEMBER),
        ("decline", None, {"persist": "session"}, Decision.DECLINE),
        ("cancel", {"q": "Allow for this session"}, None, Decision.CANCEL),
    ],
)
def test_parse_decision(action: str, content: Any, meta: Any, expected: Decision):
    assert parse_decision(action, content, meta, "q") is expected


def test_keys_and_offers_follow_the_approval_mode_and_the_server_origin():
    key = ApprovalKey(server="files", tool="write")
    assert session_key("files", "write", "auto") == key
    assert session_key("files", "write", "prompt") is None and session_key("files", "write", "writes") is None
    assert session_key("codex_apps", "write", "auto") is None  # no connector: no stable identity
    assert persistent_key("files", "write", "auto", selected_root=True) is None
    assert persistent_key("files", "write", "auto") == key
    assert persist_options(key, key) == ["session", "always"]
    assert persist_options(key, None) == "session"
    assert persist_options(None, None) is None
    assert normalize(Decision.ACCEPT_AND_REMEMBER, "writes") is Decision.ACCEPT
    assert normalize(Decision.ACCEPT_FOR_SESSION, "auto") is Decision.ACCEPT_FOR_SESSION


# --- the reference ---------------------------------------------------------------------------------


def decline_until_done(app: AppServerProcess, turn: str) -> list[dict[str, Any]]:
    """Decline every prompt until ``turn`` completes; the prompts."""
    asked = []
    while True:
        message = app.wait_for(
            lambda m: (m.get("method") == ELICIT and "id" in m)
            or (m.get("method") == "turn/completed" and m["params"]["turn"]["id"] == turn),
            timeout=60, what="a prompt or turn/completed")
        if message["method"] == "turn/completed":
            return asked
        asked.append(message)
        answer(app, message, {"action": "decline"})


def _differential(persist: str | None):
    """One thread calls `slow` twice and `big` once; the first prompt is answered with
    ``persist``, any later one declined. What was asked, what ran, what config.toml holds."""

    def scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
        model.queue(slow("call-1"), slow("call-2"), big("call-3"), assistant_text("Done"),
                    slow("call-4"), assistant_text("Done"))
        with AppServerProcess(home, command=command) as app:
            app.initialize()
            thread_id = start_thread(app)
            app.wait_notification("mcpServer/startupStatus/updated",
                                  lambda m: m["params"]["name"] == "echo" and m["params"]["status"] == "ready",
                                  timeout=60)
            turn = start_turn(app, thread_id)
            first = next_prompt(app)
            answer(app, first, {"action": "accept", **({"_meta": {"persist": persist}} if persist else {})})
            asked = [first, *decline_until_done(app, turn)]
            items = mcp_items(app, thread_id)
            # a new thread of the same process
            other = start_thread(app)
            other_asked = decline_until_done(app, start_turn(app, other))
            other_items = mcp_items(app, other)
            app.close()
        params = first["params"]
        return {
            "_meta": params["_meta"], "message": params["message"], "mode": params["mode"],
            "requestedSchema": params.get("requestedSchema"),
            "asked": [r["params"]["message"] for r in asked],
            "items": items,
            "new_thread_asked": [r["params"]["message"] for r in other_asked],
            "new_thread_items": other_items,
            "approval_modes": {tool: approval_mode_in(home, tool) for tool in ("slow", "big")},
        }

    return scenario


@pytest.mark.reference
@pytest.mark.timeout(300)
@pytest.mark.parametrize("persist", [None, "session", "always"])
def test_prompt_and_remembering_match_the_reference(reference_codex: Path, tmp_path: Path, persist: str | None):
    reference, ours = run_both(reference_codex, tmp_path, _differential(persist), extra=echo_toml())
    assert ours == reference
