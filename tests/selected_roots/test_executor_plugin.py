"""A thread selects a plugin that lives in an executor environment; it gets that plugin's MCP
servers (stdio run inside the executor, HTTP reached from it), nobody else does.

Mirrors codex's ``selected_executor_plugin_exposes_its_mcps_only_to_that_thread``
(``app-server/tests/suite/v2/executor_mcp.rs``) and ``selected_executor_root_exposes_plugin_skill``.
Runs with our ``rootstep exec-server --listen stdio`` as the executor, and again with the
reference ``codex exec-server``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.exec_server.helpers import executor_argv
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_http_server import echo_http_server
from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    function_call_response,
    write_config,
)
from tests.selected_roots.helpers import (
    CONNECTED,
    MARKER_VALUE,
    child_tool,
    developer_texts,
    namespace,
    pids,
    root,
    write_environments,
    write_plugin,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["rootstep", "reference"])
def executor(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "reference":
        request.getfixturevalue("reference_codex")
    return executor_argv(request.param)


def test_selected_executor_plugin_exposes_its_mcps_only_to_that_thread(tmp_path: Path, executor: list[str]) -> None:
    home = tmp_path / "home"
    pid_file = tmp_path / "pids.txt"
    before = descendants()
    with MockModel() as model, echo_http_server() as http_url:
        write_config(home, model)
        write_environments(home, executor)
        plugin = write_plugin(tmp_path / "plugin", pid_file=pid_file, http_url=http_url)
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            selected = app.call(
                "thread/start",
                {"model": "mock-model", "selectedCapabilityRoots": [root("executor-demo@1", "executor-1", plugin)]},
            )["thread"]["id"]
            plain = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
            # The thread's executor starts in the background; wait until it is up so the first
            # step deterministically finds it ready.
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)

            args = json.dumps({"message": "hello", "env_var": "MCP_EXECUTOR_MARKER"})
            model.queue(
                function_call_response("call-1", "echo", args, namespace="mcp__executor_demo"),
                assistant_text("Done"),
            )
            turn = app.run_turn(selected, "Call echo, then $executor-demo:deploy")
            assert turn["status"] == "completed", turn
            call = app.wait_notification(
                "item/completed", lambda m: m["params"]["item"].get("type") == "mcpToolCall"
            )["params"]["item"]
            assert call["server"] == "executor_demo" and call["status"] == "completed"
            assert call["pluginId"] == "executor-demo@1"
            assert call["result"]["structuredContent"]["env"] == MARKER_VALUE

            first, second = model.requests[0].body, model.requests[1].body
            echo = child_tool(first, "mcp__executor_demo", "echo")
            assert echo is not None, first["tools"]
            assert echo["description"].endswith("This tool is part of plugin `Executor Demo`.")
            assert child_tool(first, "mcp__executor_http", "echo") is not None
            outputs = json.dumps([i for i in second["input"] if i.get("type") == "function_call_output"])
            assert "ECHOING: hello" in outputs and MARKER_VALUE in outputs
            # Skills of the ready root: the catalog, the plugin guidance once, the mentioned body.
            assert any("executor-demo:deploy" in t for t in developer_texts(first, "<skills_instructions>"))
            assert len(developer_texts(first, "<plugins_instructions>")) == 1
            assert "Run ./deploy.sh --prod" in json.dumps(first["input"])
            assert len(pids(pid_file)) == 1

            # Same ready roots at the next turn: the same process serves it.
            model.queue(assistant_text("Again"))
            assert app.run_turn(selected, "Again")["status"] == "completed"
            assert child_tool(model.requests[2].body, "mcp__executor_demo", "echo") is not None
            assert len(developer_texts(model.requests[2].body, "<plugins_instructions>")) == 1
            assert len(pids(pid_file)) == 1

            # Direct calls resolve from the thread's projection; the HTTP server is reached
            # from the executor.
            result = app.call(
                "mcpServer/tool/call",
                {"threadId": selected, "server": "executor_http", "tool": "echo",
                 "arguments": {"message": "hello over executor HTTP"}},
            )
            assert result["structuredContent"]["echo"] == "ECHOING: hello over executor HTTP"
            assert result["structuredContent"]["threadId"] == selected
            result = app.call(
                "mcpServer/tool/call",
                {"threadId": selected, "server": "executor_demo", "tool": "echo",
                 "arguments": {"message": "direct", "env_var": "MCP_EXECUTOR_MARKER"}},
            )
            assert result["structuredContent"]["env"] == MARKER_VALUE
            assert len(pids(pid_file)) == 1

            # Status lists: the selecting thread sees the plugin's servers, the other does not.
            listed = app.call("mcpServerStatus/list", {"threadId": selected})["data"]
            names = {entry["name"] for entry in listed}
            assert {"executor_demo", "executor_http"} <= names
            demo = next(e for e in listed if e["name"] == "executor_demo")
            assert "This tool is part of plugin `Executor Demo`." in json.dumps(demo["tools"])
            for params in ({"threadId": plain}, {}):
                others = {e["name"] for e in app.call("mcpServerStatus/list", params)["data"]}
                assert not others & {"executor_demo", "executor_http"}
            err = app.call_error(
                "mcpServer/tool/call", {"threadId": plain, "server": "executor_demo", "tool": "echo", "arguments": {}}
            )
            assert "executor_demo" in err.message

            # The unselected thread's model never sees the plugin.
            model.queue(assistant_text("Plain"))
            assert app.run_turn(plain, "hi")["status"] == "completed"
            body = model.requests[-1].body
            assert namespace(body, "mcp__executor_demo") is None
            assert not developer_texts(body, "<plugins_instructions>")
            app.assert_schema_clean()
            assert app.close() == 0
    leaked = descendants() - before
    assert not leaked, f"leaked processes: {leaked}"


def test_thread_start_validates_and_canonicalizes_roots(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with MockModel() as model:
        write_config(home, model)
        plugin = tmp_path / "plugin"
        plugin.mkdir()
        with AppServerProcess(home) as app:
            app.initialize()
            err = app.call_error(
                "thread/start",
                {"selectedCapabilityRoots": [
                    {"id": "x", "location": {"type": "url", "environmentId": "local", "path": "/p"}}]},
            )
            assert err.code == -32600 and "location type" in err.message
            thread = app.call(
                "thread/start", {"selectedCapabilityRoots": [root("p@1", "local", plugin)], "ephemeral": False}
            )["thread"]
            meta = json.loads(Path(thread["path"]).read_text().splitlines()[0])["payload"]
            assert meta["selected_capability_roots"] == [
                {"id": "p@1", "location": {"type": "environment", "environmentId": "local", "path": plugin.as_uri()}}
            ]
            app.close()
        with AppServerProcess(home) as app:
            app.initialize(experimental=False)
            err = app.call_error("thread/start", {"selectedCapabilityRoots": [root("p@1", "local", plugin)]})
            assert "experimental" in err.message.lower() or "selectedCapabilityRoots" in err.message
            app.close()



RECORDER = str(Path(__file__).resolve().parent.parent / "environments" / "recording_executor.py")


@pytest.mark.parametrize("discovery", [False, True], ids=["fs-calls", "capability-discovery"])
def test_plugin_resolution_paths_give_the_same_tools(tmp_path: Path, discovery: bool) -> None:
    """Without the feature the plugin is read with fs/* calls through the executor; with
    `executor_capability_discovery` one capabilityRoots/discoverV1 — the same tools either way."""
    home = tmp_path / "home"
    record = tmp_path / "methods.txt"
    with MockModel() as model:
        write_config(home, model)
        if discovery:
            config = home / "config.toml"
            config.write_text(config.read_text().replace(
                "[features]\n", "[features]\nexecutor_capability_discovery = true\n"))
        write_environments(home, [sys.executable, RECORDER], extra=f"RECORD_FILE = {json.dumps(str(record))}\n")
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids")
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            thread = app.call(
                "thread/start", {"selectedCapabilityRoots": [root("executor-demo@1", "executor-1", plugin)]}
            )["thread"]["id"]
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
            model.queue(assistant_text("ok"))
            assert app.run_turn(thread, "hi")["status"] == "completed"
            body = model.requests[0].body
            assert child_tool(body, "mcp__executor_demo", "echo") is not None
            assert any("executor-demo:deploy" in t for t in developer_texts(body, "<skills_instructions>"))
            err = app.call_error("thread/start", {"environments": [{"environmentId": "nope", "cwd": str(tmp_path)}]})
            assert err.code == -32600 and err.message == "unknown turn environment id `nope`"
            assert app.close() == 0
        methods = set(record.read_text().split())
        if discovery:
            assert "capabilityRoots/discoverV1" in methods and "fs/readFile" not in methods
        else:
            assert {"fs/getMetadata", "fs/readFile"} <= methods and "capabilityRoots/discoverV1" not in methods


def test_selected_executor_root_exposes_plugin_skill(tmp_path: Path) -> None:
    """The skill of a plugin in an executor is listed for the model and a `$plugin:skill`
    mention injects its SKILL.md body (read through the executor)."""
    home = tmp_path / "home"
    with MockModel() as model:
        write_config(home, model)
        write_environments(home, executor_argv("rootstep"))
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids")
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            thread = app.call(
                "thread/start", {"selectedCapabilityRoots": [root("executor-demo@1", "executor-1", plugin)]}
            )["thread"]["id"]
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
            model.queue(assistant_text("deployed"))
            assert app.run_turn(thread, "please $executor-demo:deploy now")["status"] == "completed"
            body = model.requests[0].body
            [catalog] = developer_texts(body, "<skills_instructions>")
            assert ("- executor-demo:deploy: Deploy the executor demo (executor package: executor-1/skills/deploy)"
                    in catalog)
            injected = [
                c["text"] for i in body["input"] if i.get("role") == "user" for c in i["content"]
                if c.get("text", "").startswith("<skill>")
            ]
            assert len(injected) == 1 and "<name>executor-demo:deploy</name>" in injected[0]
            assert "Run ./deploy.sh --prod and report the URL." in injected[0]
            # A later turn without a mention injects nothing new; the catalog is not repeated.
            model.queue(assistant_text("ok"))
            assert app.run_turn(thread, "thanks")["status"] == "completed"
            later = model.requests[1].body
            assert len(developer_texts(later, "<skills_instructions>")) == 1
            assert json.dumps(later["input"]).count("<skill>") == 1
            app.assert_schema_clean()
            assert app.close() == 0
