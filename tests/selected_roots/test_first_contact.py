"""First contact: a thread that selects a plugin in an executor has it from its first step.

A user starts the app-server, starts a thread selecting a root that lives in a stdio executor
declared in ``environments.toml``, and at once runs a turn in which the model calls the
plugin's tool — or sends a thread-scoped request right after ``thread/start``. As in codex
0.169, the step (and the request) waits for the environments the thread selected, so the
plugin is there the first time. Which environments a step waits for is checked against the
0.169 binary in :func:`test_which_environments_a_step_waits_for_matches_the_reference`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import descendants
from tests.exec_server.helpers import executor_argv
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.differential import assert_same_keys, run_both
from tests.fixtures.mcp_http_server import echo_http_server
from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    function_call_response,
    write_config,
)
from tests.selected_roots.helpers import (
    MARKER,
    MARKER_VALUE,
    ROOTSTEP_EXECUTOR,
    child_tool,
    namespace,
    root,
    write_environments,
    write_plugin,
)

pytestmark = pytest.mark.timeout(240)
ECHO_ARGS = json.dumps({"message": "first contact", "env_var": MARKER})


@pytest.fixture(params=["rootstep", "reference"])
def executor(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "reference":
        request.getfixturevalue("reference_codex")
    return executor_argv(request.param)


def test_the_first_turn_after_thread_start_calls_the_executor_plugin(tmp_path: Path, executor: list[str]) -> None:
    home = tmp_path / "home"
    before = descendants()
    with MockModel() as model:
        write_config(home, model)
        write_environments(home, executor)
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids.txt")
        with AppServerProcess(home) as app:
            app.initialize()
            thread = app.call(
                "thread/start",
                {"model": "mock-model", "selectedCapabilityRoots": [root("demo@1", "executor-1", plugin)]},
            )["thread"]
            assert [e["environmentId"] for e in thread["environments"]] == ["local", "executor-1"]
            model.queue(
                function_call_response("call-1", "echo", ECHO_ARGS, namespace="mcp__executor_demo"),
                assistant_text("Done"),
            )
            # No waiting for the executor: the turn is sent right after thread/start.
            turn = app.run_turn(thread["id"], "Call the plugin")
            assert turn["status"] == "completed", turn
            first = model.requests[0].body
            assert child_tool(first, "mcp__executor_demo", "echo") is not None, first["tools"]
            call = app.wait_notification(
                "item/completed", lambda m: m["params"]["item"].get("type") == "mcpToolCall"
            )["params"]["item"]
            assert call["status"] == "completed" and call["pluginId"] == "demo@1"
            assert call["result"]["structuredContent"]["env"] == MARKER_VALUE  # it ran in the executor
            outputs = json.dumps(model.requests[1].body["input"])
            assert "unsupported call" not in outputs and "ECHOING: first contact" in outputs
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)


def test_direct_requests_right_after_thread_start_see_the_executor_plugin(tmp_path: Path, executor: list[str]) -> None:
    home = tmp_path / "home"
    before = descendants()
    with MockModel() as model, echo_http_server() as http_url:
        write_config(home, model)
        write_environments(home, executor)
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids.txt", http_url=http_url)
        with AppServerProcess(home) as app:
            app.initialize()
            selected = app.call(
                "thread/start",
                {"model": "mock-model", "selectedCapabilityRoots": [root("demo@1", "executor-1", plugin)]},
            )["thread"]["id"]
            listed = app.call("mcpServerStatus/list", {"threadId": selected})["data"]
            assert {"executor_demo", "executor_http"} <= {entry["name"] for entry in listed}
            result = app.call(
                "mcpServer/tool/call",
                {"threadId": selected, "server": "executor_demo", "tool": "echo",
                 "arguments": {"message": "direct", "env_var": MARKER}},
            )
            assert result["structuredContent"]["env"] == MARKER_VALUE
            # The login finds the plugin's stdio server (and says what 0.169 says of it).
            err = app.call_error("mcpServer/oauth/login", {"threadId": selected, "name": "executor_demo"})
            assert err.message == "OAuth login is only supported for streamable HTTP servers."
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)


def _slow_executor(delay: float) -> list[str]:
    """Our exec-server, answering only after ``delay`` seconds (a deterministic "still starting")."""
    inner = " ".join(json.dumps(a) for a in ROOTSTEP_EXECUTOR)
    return ["/bin/sh", "-c", f"sleep {delay}; exec {inner}"]


def _has_plugin(model: MockModel) -> bool:
    return namespace(model.requests[-1].body, "mcp__executor_demo") is not None


def _turn(app: AppServerProcess, model: MockModel, thread_id: str, **params: Any) -> bool:
    model.queue(assistant_text("ok"))
    assert app.run_turn(thread_id, "hi", **params)["status"] == "completed"
    return _has_plugin(model)


def _start(app: AppServerProcess, plugin: Path, **params: Any) -> dict[str, Any]:
    return app.call(
        "thread/start",
        {"model": "mock-model", "selectedCapabilityRoots": [root("demo@1", "executor-1", plugin)], **params},
        timeout=60,
    )["thread"]


def _selection_scenario(plugin: Path) -> Any:
    def scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
        write_environments(home, _slow_executor(0.5))
        local = [{"environmentId": "local", "cwd": str(home)}]
        executor = [{"environmentId": "executor-1", "cwd": str(home)}]
        out: dict[str, Any] = {}
        with AppServerProcess(home, command=command, validate=False) as app:
            app.initialize()
            # The thread names no environments: it gets every configured one, and its first
            # direct request and first step wait for the executor.
            thread = _start(app, plugin)
            out["default selection"] = sorted(e["environmentId"] for e in thread["environments"])
            listed = app.call("mcpServerStatus/list", {"threadId": thread["id"]}, timeout=60)["data"]
            out["default: listed right after thread/start"] = "executor_demo" in {e["name"] for e in listed}
            out["default: first step"] = _turn(app, model, thread["id"])
            # The executor is up now; a thread that did not select it still never sees the root.
            local_only = _start(app, plugin, environments=local)["id"]
            out["local only: steps"] = [_turn(app, model, local_only), _turn(app, model, local_only)]
            out["local only: listed"] = "executor_demo" in {
                e["name"] for e in app.call("mcpServerStatus/list", {"threadId": local_only})["data"]}
            out["local only, turn names the executor"] = _turn(app, model, local_only, environments=executor)
            out["names the executor: first step"] = _turn(app, model, _start(app, plugin, environments=executor)["id"])
            out["no environments: step"] = _turn(app, model, _start(app, plugin, environments=[])["id"])
            assert app.close() == 0
        return out

    return scenario


def _deferred_scenario(plugin: Path) -> Any:
    def scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
        config = home / "config.toml"
        config.write_text(config.read_text().replace("[features]\n", "[features]\ndeferred_executor = true\n", 1))
        write_environments(home, _slow_executor(3.0))  # still starting at the first step, even under load
        out: dict[str, Any] = {}
        with AppServerProcess(home, command=command, validate=False) as app:
            app.initialize()
            thread = _start(app, plugin)["id"]
            out["deferred: first step"] = _turn(app, model, thread)
            deadline = time.monotonic() + 60
            while "executor_demo" not in {
                e["name"] for e in app.call("mcpServerStatus/list", {"threadId": thread})["data"]
            }:
                assert time.monotonic() < deadline, "the executor never became ready"
                time.sleep(0.1)
            out["deferred: a later step"] = _turn(app, model, thread)
            assert app.close() == 0
        (home / "environments.toml").write_text(
            (home / "environments.toml").read_text().replace(
                "include_local = true\n", 'include_local = true\ndefault = "none"\n')
        )
        config.write_text(config.read_text().replace("deferred_executor = true\n", ""))
        with AppServerProcess(home, command=command, validate=False) as app:
            app.initialize()
            thread = _start(app, plugin)
            out["default none: selection"] = thread["environments"]
            out["default none: step"] = _turn(app, model, thread["id"])
            assert app.close() == 0
        return out

    return scenario


STUB_SERVER = Path(__file__).resolve().parent.parent / "fixtures" / "mcp_stub_server.py"


def _quick_plugin(tmp_path: Path) -> Path:
    """The plugin, its server the stdlib-only stub. 0.169 gives a step's servers that are still
    starting about one second (probed), and an `mcp` SDK server's imports take about that long: on
    a loaded machine the reference's answers would depend on the load, not on the rule under test."""
    plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids.txt", skill=False)
    (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {
        "executor_demo": {"command": sys.executable, "args": [str(STUB_SERVER)]}}}))
    return plugin


def test_which_environments_a_step_waits_for_matches_the_reference(tmp_path: Path, reference_codex: Path) -> None:
    plugin = _quick_plugin(tmp_path)
    reference, ours = run_both(reference_codex, tmp_path, _selection_scenario(plugin))
    assert reference["default: first step"] is True  # what the rule is about: checked on 0.169 too
    assert_same_keys(reference, ours)


def test_deferred_executors_and_no_default_match_the_reference(tmp_path: Path, reference_codex: Path) -> None:
    plugin = _quick_plugin(tmp_path)
    reference, ours = run_both(reference_codex, tmp_path, _deferred_scenario(plugin))
    assert reference["deferred: first step"] is False and reference["deferred: a later step"] is True
    assert_same_keys(reference, ours)
