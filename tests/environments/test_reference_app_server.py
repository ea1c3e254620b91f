"""Our exec-server under a client we did not write: the reference `codex app-server` 0.169.

Its environments.toml declares a stdio executor that is `rootstep exec-server --listen stdio`.
A thread selects a plugin root that lives in that executor; the mock model asks for the
plugin's stdio MCP tool; the tool runs inside our executor (it sees the executor-only marker
from `[environments.env]`) and its result flows back into the turn and the next model request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.exec_server.helpers import ECHO_SERVER, wait_gone
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

RECORDER = str(Path(__file__).resolve().parent / "recording_executor.py")

pytestmark = [pytest.mark.reference, pytest.mark.timeout(180)]


def write_plugin(root: Path) -> None:
    skill = root / "skills" / "deploy"
    (skill / "agents").mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: deploy\ndescription: Deploy the executor demo\n---\nRun the deploy.\n")
    (skill / "agents" / "openai.yaml").write_text("interface:\n  display_name: Deploy\n")
    (root / ".codex-plugin").mkdir(parents=True)
    (root / ".codex-plugin" / "plugin.json").write_text(
        json.dumps({"name": "executor-demo", "interface": {"displayName": "Executor Demo"}})
    )
    server = {"command": sys.executable, "args": [ECHO_SERVER], "env_vars": ["MCP_EXECUTOR_MARKER"]}
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"executor_probe": server}}))


@pytest.mark.parametrize("discovery", [False, True], ids=["fs-calls", "capability-discovery"])
def test_reference_app_server_runs_a_plugin_tool_in_our_executor(
    reference_codex: Path, tmp_path: Path, discovery: bool
) -> None:
    """Without the discovery feature the reference resolves the plugin with fs/* calls; with
    `executor_capability_discovery` it sends one capabilityRoots/discoverV1."""
    home = tmp_path / "home"
    plugin = tmp_path / "plugin"
    write_plugin(plugin)
    record = tmp_path / "methods.txt"
    before = descendants()
    with MockModel() as model:
        write_config(home, model)
        if discovery:
            config = home / "config.toml"
            config.write_text(config.read_text().replace(
                "[features]\n", "[features]\nexecutor_capability_discovery = true\n"))
        (home / "environments.toml").write_text(
            "include_local = true\n\n[[environments]]\n"
            'id = "executor-1"\n'
            f"program = {json.dumps(sys.executable)}\n"
            f"args = [{json.dumps(RECORDER)}]\n"
            "initialize_timeout_sec = 20\n"
            "[environments.env]\n"
            'MCP_EXECUTOR_MARKER = "executor-only"\n'
            f"RECORD_FILE = {json.dumps(str(record))}\n"
        )
        args = json.dumps({"message": "hello", "env_var": "MCP_EXECUTOR_MARKER"})
        model.queue(
            assistant_text("Warm"),
            function_call_response("call-1", "echo", args, namespace="mcp__executor_probe"),
            assistant_text("Done"),
        )
        reference = [str(reference_codex), "app-server", "--listen", "stdio://"]
        with AppServerProcess(home, command=reference, validate=False) as app:
            app.initialize(experimental=True)
            root = {"id": "executor-demo@1",
                    "location": {"type": "environment", "environmentId": "executor-1", "path": str(plugin)}}
            # No `environments`: every configured environment (executor-1 included) is a turn environment.
            thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [root]}, timeout=60)
            # 0.169 starts the plugin's MCP server with the first turn but may sample before it
            # is ready: a warm-up turn starts it, then the tool turn finds it listed.
            assert app.run_turn(thread["thread"]["id"], "Warm up")["status"] == "completed"
            app.wait_notification(
                "mcpServer/startupStatus/updated",
                lambda m: m["params"]["name"] == "executor_probe" and m["params"]["status"] == "ready",
                timeout=60,
            )
            turn = app.run_turn(thread["thread"]["id"], "Call echo")
            assert turn["status"] == "completed", turn
            call = app.wait_notification(
                "item/completed", lambda m: m["params"]["item"].get("type") == "mcpToolCall", timeout=5
            )["params"]["item"]
            assert call["server"] == "executor_probe" and call["tool"] == "echo" and call["status"] == "completed"
            assert "executor-only" in json.dumps(call["result"])
            # The model saw the plugin's tool, and then the executor-side result.
            first, second = model.requests[1].body, model.requests[2].body
            assert "mcp__executor_probe" in json.dumps(first["tools"])
            # The plugin's skill was found through our executor too (fs/walk or discoverV1).
            assert "executor-demo:deploy" in json.dumps(first["input"])
            outputs = [i for i in second["input"] if i.get("type") == "function_call_output"]
            assert outputs and "ECHOING: hello" in json.dumps(outputs) and "executor-only" in json.dumps(outputs)
            methods = record.read_text().split()
            assert methods[:2] == ["initialize", "initialized"]
            assert {"process/start", "process/write"} <= set(methods)
            if discovery:
                assert "capabilityRoots/discoverV1" in methods
            else:
                assert {"fs/getMetadata", "fs/readFile", "fs/walk"} <= set(methods)
            spawned = descendants() - before
            assert any("exec-server" in " ".join(_cmdline(pid)) for pid in spawned)
            app.close()
    import anyio

    assert anyio.run(wait_gone, descendants() - before) == set()


def _cmdline(pid: int) -> list[str]:
    import psutil

    try:
        return psutil.Process(pid).cmdline()
    except psutil.NoSuchProcess:
        return []
