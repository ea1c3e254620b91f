"""Readiness is a per-step fact: tools appear at the step after an executor comes up, stay on
the same process while the ready roots do not change, and a resumed thread starts fresh.

Mirrors codex's ``selected_capabilities_become_available_between_samples_in_one_turn`` and
``selected_capability_stack_tracks_environment_availability_and_resume``
(``app-server/tests/suite/v2/selected_capability_stack.rs``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.loopback import free_port
from tests.fixtures.mcp_helpers import alive
from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    function_call_response,
    write_config,
)
from tests.selected_roots.helpers import (
    CONNECTED,
    MARKER,
    MARKER_VALUE,
    ROOTSTEP_EXECUTOR,
    child_tool,
    developer_texts,
    namespace,
    pids,
    root,
    write_environments,
    write_plugin,
)

pytestmark = pytest.mark.timeout(180)
ECHO_ARGS = json.dumps({"message": "hello", "env_var": MARKER})


@contextmanager
def ws_executor() -> Iterator[str]:
    """``rootstep exec-server --listen ws://127.0.0.1:0`` with the executor-only marker."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rootstep", "exec-server", "--listen", "ws://127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, MARKER: MARKER_VALUE}, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("ws://"), url
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("deferred", [True, False], ids=["deferred_executor", "waiting"])
def test_selected_capabilities_become_available_between_samples_in_one_turn(tmp_path: Path, deferred: bool) -> None:
    """As in 0.169: the root's environment is in the thread's selection but cannot be reached
    (its URL is dead); ``environment/add`` points the same id at a live executor while step 1
    streams, and step 2 has the plugin. Without ``deferred_executor`` step 1 waited for the dead
    environment (bounded by its connect timeout) and left it out."""
    home = tmp_path / "home"
    pid_file = tmp_path / "pids.txt"
    before = descendants()
    with MockModel() as model, ws_executor() as url:
        write_config(home, model)
        if deferred:
            config = home / "config.toml"
            config.write_text(config.read_text().replace("[features]\n", "[features]\ndeferred_executor = true\n", 1))
        (home / "environments.toml").write_text(
            f'include_local = true\n\n[[environments]]\nid = "executor-ws"\nurl = "ws://127.0.0.1:{free_port()}"\n'
            "connect_timeout_sec = 0.2\n"
        )
        plugin = write_plugin(tmp_path / "plugin", pid_file=pid_file)
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            thread = app.call(
                "thread/start", {"selectedCapabilityRoots": [root("executor-demo@1", "executor-ws", plugin)]}
            )["thread"]["id"]
            first = function_call_response("call-0", "wait_for_environment", "{}")
            first.hold_after = 1
            model.queue(
                first,
                function_call_response("call-1", "echo", ECHO_ARGS, namespace="mcp__executor_demo"),
                assistant_text("Done"),
            )
            turn = app.call("turn/start", {"threadId": thread, "input": [{"type": "text", "text": "go"}]})["turn"]
            assert first.reached_hold.wait(30)
            # Step 1 was captured without the environment; it joins while step 1 streams.
            app.call("environment/add", {"environmentId": "executor-ws", "execServerUrl": url})
            app.wait_stderr(CONNECTED.format("executor-ws"), timeout=30)
            first.release()
            done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"],
                                         timeout=60)
            assert done["params"]["turn"]["status"] == "completed"

            step1, step2 = model.requests[0].body, model.requests[1].body
            assert namespace(step1, "mcp__executor_demo") is None
            assert not developer_texts(step1, "<plugins_instructions>")
            assert not developer_texts(step1, "<skills_instructions>")
            assert child_tool(step2, "mcp__executor_demo", "echo") is not None
            assert len(developer_texts(step2, "<plugins_instructions>")) == 1
            assert any("executor-demo:deploy" in t for t in developer_texts(step2, "<skills_instructions>"))
            outputs = json.dumps(model.requests[2].body["input"])
            assert "ECHOING: hello" in outputs and MARKER_VALUE in outputs
            assert len(pids(pid_file)) == 1
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)


def test_selected_capability_stack_tracks_environment_availability_and_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pid_file = tmp_path / "pids.txt"
    before = descendants()
    with MockModel() as model:
        write_config(home, model)
        write_environments(home, ROOTSTEP_EXECUTOR)
        plugin = write_plugin(tmp_path / "plugin", pid_file=pid_file)
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            thread = app.call(
                "thread/start", {"selectedCapabilityRoots": [root("executor-demo@1", "executor-1", plugin)]}
            )["thread"]["id"]
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
            model.queue(function_call_response("c1", "echo", ECHO_ARGS, namespace="mcp__executor_demo"),
                        assistant_text("one"))
            assert app.run_turn(thread, "turn 1")["status"] == "completed"
            model.queue(function_call_response("c2", "echo", ECHO_ARGS, namespace="mcp__executor_demo"),
                        assistant_text("two"))
            assert app.run_turn(thread, "turn 2")["status"] == "completed"
            # Same ready roots: the MCP process of turn 1 serves turn 2.
            assert len(pids(pid_file)) == 1
            first_pid = pids(pid_file)[0]
            assert app.close() == 0
        assert not alive(first_pid)

        # Restart with the executor unavailable (its program exits at once).
        write_environments(home, [sys.executable, "-c", "import sys; sys.exit(3)"])
        with ws_executor() as url, AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            resumed = app.call("thread/resume", {"threadId": thread})
            assert resumed["thread"]["id"] == thread
            model.queue(assistant_text("down"))
            assert app.run_turn(thread, "turn 3")["status"] == "completed"
            body = model.requests[-1].body
            assert namespace(body, "mcp__executor_demo") is None
            # The guidance stays once (restored from history); the skills update says none.
            assert len(developer_texts(body, "<plugins_instructions>")) == 1
            assert "No selected-environment skills are currently available." in developer_texts(
                body, "<skills_instructions>"
            )[-1]

            app.call("environment/add", {"environmentId": "executor-1", "execServerUrl": url})
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=30)
            model.queue(function_call_response("c4", "echo", ECHO_ARGS, namespace="mcp__executor_demo"),
                        assistant_text("up"))
            assert app.run_turn(thread, "turn 4")["status"] == "completed"
            body = model.requests[-2].body
            assert child_tool(body, "mcp__executor_demo", "echo") is not None  # the same name as before
            assert "executor-demo:deploy" in developer_texts(body, "<skills_instructions>")[-1]
            outputs = json.dumps(model.requests[-1].body["input"])
            assert MARKER_VALUE in outputs
            # A new process serves the resumed thread.
            assert len(pids(pid_file)) == 2 and pids(pid_file)[1] != first_pid
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)
