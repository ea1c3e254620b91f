"""E2E through the app-server process: ``mcpServer/resource/read``.

One app-server for the module: config.toml holds the echo server (pid file), a server whose
command does not exist and a disabled one; an executor environment serves a plugin root with
its own echo server. Each thread reads from the servers of its *current* projection only; the
errors are the ones codex 0.169 answers (``test_reads_match_the_reference`` runs the same
requests against the reference binary). Every response is schema-checked and no child process
may outlive the module.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.differential import assert_same_keys, run_both
from tests.fixtures.mcp_echo_server import GREETING, PNG_1X1
from tests.fixtures.mcp_helpers import alive, echo_server_toml, read_pids
from tests.fixtures.mock_model import MockModel, write_config
from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments, write_plugin

pytestmark = pytest.mark.timeout(180)

READ = "mcpServer/resource/read"
PLUGIN_SERVER = "executor_demo"


def config_toml(pid_file: Path) -> str:
    return echo_server_toml("echo", env={"MCP_TEST_PID_FILE": str(pid_file)}, extra=(
        '\n[mcp_servers.broken]\ncommand = "/nonexistent/rootstep-resource-read-test"\n'
        '\n[mcp_servers.off]\ncommand = "/nonexistent/never-started"\nenabled = false\n'
    ))


class Setup:
    def __init__(self, app: AppServerProcess, tmp: Path) -> None:
        self.app = app
        self.tmp = tmp
        self.pid_file = tmp / "echo.pids"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("resource-read")
    home = tmp / "home"
    before = descendants()
    with MockModel() as model:
        write_config(home, model, extra=config_toml(tmp / "echo.pids"))
        write_environments(home, ROOTSTEP_EXECUTOR)
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            yield Setup(app, tmp)
            app.assert_schema_clean()
            assert app.close(timeout=60) == 0
    leaked = descendants() - before
    assert not leaked, f"leaked child processes: {leaked}"


def plain_thread(app: AppServerProcess) -> str:
    """A thread with the config.toml servers, once its echo server and broken server settled."""
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    for name, status in (("echo", "ready"), ("broken", "failed")):
        app.wait_notification(
            "mcpServer/startupStatus/updated",
            lambda m, name=name, status=status: m["params"].get("threadId") == thread_id
            and m["params"]["name"] == name and m["params"]["status"] == status,
            timeout=60,
        )
    return thread_id


def error_of(app: AppServerProcess, params: dict[str, Any]) -> tuple[int, str]:
    error = app.call_error(READ, params, timeout=60)
    return error.code, error.message


def test_text_and_blob_resources_read_back_exactly(setup: Setup) -> None:
    app = setup.app
    thread_id = plain_thread(app)

    text = app.call(READ, {"threadId": thread_id, "server": "echo", "uri": "echo://greeting"}, timeout=60)
    assert text == {"contents": [{"uri": "echo://greeting", "mimeType": "text/plain", "text": GREETING}],
                    "originCallId": None}

    blob = app.call(READ, {"threadId": thread_id, "server": "echo", "uri": "echo://pixel"}, timeout=60)
    assert blob == {"contents": [{"uri": "echo://pixel", "mimeType": "image/png", "blob": PNG_1X1}],
                    "originCallId": None}
    assert base64.b64decode(blob["contents"][0]["blob"]).startswith(b"\x89PNG\r\n\x1a\n")

    # A templated uri the server resolves itself (memo://{name}).
    memo = app.call(READ, {"threadId": thread_id, "server": "echo", "uri": "memo://notes"}, timeout=60)
    assert memo["contents"] == [{"uri": "memo://notes", "mimeType": "text/plain", "text": "memo notes"}]


def test_the_servers_error_is_the_answer_and_the_server_keeps_serving(setup: Setup) -> None:
    app = setup.app
    thread_id = plain_thread(app)
    # The echo server answers -32002 (MCP "resource not found"); it reaches the client unchanged.
    assert error_of(app, {"threadId": thread_id, "server": "echo", "uri": "echo://nope"}) == (
        -32002, "Resource not found: echo://nope")
    again = app.call(READ, {"threadId": thread_id, "server": "echo", "uri": "echo://greeting"}, timeout=60)
    assert again["contents"][0]["text"] == GREETING


def test_unknown_disabled_and_failed_servers(setup: Setup) -> None:
    app = setup.app
    thread_id = plain_thread(app)
    assert error_of(app, {"threadId": thread_id, "server": "nope", "uri": "echo://greeting"}) == (
        -32603, "unknown MCP server 'nope'")
    assert error_of(app, {"threadId": thread_id, "server": "off", "uri": "echo://greeting"}) == (
        -32603, "unknown MCP server 'off'")
    assert error_of(app, {"threadId": thread_id, "server": "broken", "uri": "echo://greeting"}) == (
        -32603, "failed to get client: MCP startup failed: No such file or directory (os error 2)")


def test_unknown_thread_and_bad_params(setup: Setup) -> None:
    app = setup.app
    missing = str(uuid.uuid4())
    assert error_of(app, {"threadId": missing, "server": "echo", "uri": "echo://greeting"}) == (
        -32600, f"thread not found: {missing}")
    assert error_of(app, {"server": "echo"}) == (-32600, "Invalid request: missing field `uri`")
    # still serving
    assert app.call(READ, {"server": "echo", "uri": "echo://greeting"}, timeout=60)["contents"][0]["text"] == GREETING


def test_without_a_thread_a_temporary_server_answers_and_is_gone_after(setup: Setup) -> None:
    app = setup.app
    before = read_pids(setup.pid_file) if setup.pid_file.exists() else []
    result = app.call(READ, {"server": "echo", "uri": "echo://pixel"}, timeout=60)
    assert result["contents"][0]["blob"] == PNG_1X1
    started = [pid for pid in read_pids(setup.pid_file) if pid not in before]
    assert len(started) == 1, started  # one process for this request only ...
    assert not alive(started[0])  # ... stopped and reaped before the answer
    assert error_of(app, {"server": "broken", "uri": "echo://greeting"}) == (
        -32603, "failed to get client: MCP startup failed: No such file or directory (os error 2)")
    assert error_of(app, {"server": "echo", "uri": "echo://nope"}) == (-32002, "Resource not found: echo://nope")


def test_a_thread_reads_only_its_own_selected_root_servers(setup: Setup) -> None:
    app = setup.app
    plugin = write_plugin(setup.tmp / "plugin", pid_file=setup.tmp / "plugin.pids", skill=False)
    selecting = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
        root("executor-demo@1", "executor-1", plugin)]})["thread"]["id"]
    other = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)

    result = app.call(READ, {"threadId": selecting, "server": PLUGIN_SERVER, "uri": "echo://greeting"}, timeout=60)
    assert result["contents"] == [{"uri": "echo://greeting", "mimeType": "text/plain", "text": GREETING}]
    # The plugin's server runs in the executor, started for the selecting thread.
    assert read_pids(setup.tmp / "plugin.pids")
    # The selecting thread still reaches its config.toml servers too.
    assert app.call(READ, {"threadId": selecting, "server": "echo", "uri": "echo://pixel"},
                    timeout=60)["contents"][0]["blob"] == PNG_1X1

    unknown = (-32603, f"unknown MCP server '{PLUGIN_SERVER}'")
    assert error_of(app, {"threadId": other, "server": PLUGIN_SERVER, "uri": "echo://greeting"}) == unknown
    assert error_of(app, {"server": PLUGIN_SERVER, "uri": "echo://greeting"}) == unknown


# --- differential ----------------------------------------------------------------------------

def _scenario(command: list[str], home: Path) -> dict[str, Any]:
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = plain_thread(app)
        requests = {
            "text": {"threadId": thread_id, "server": "echo", "uri": "echo://greeting"},
            "blob": {"threadId": thread_id, "server": "echo", "uri": "echo://pixel"},
            "not_found": {"threadId": thread_id, "server": "echo", "uri": "echo://nope"},
            "unknown_server": {"threadId": thread_id, "server": "nope", "uri": "echo://greeting"},
            "disabled": {"threadId": thread_id, "server": "off", "uri": "echo://greeting"},
            "failed": {"threadId": thread_id, "server": "broken", "uri": "echo://greeting"},
            "unknown_thread": {"threadId": "00000000-0000-4000-8000-000000000000", "server": "echo", "uri": "x"},
            "missing_uri": {"threadId": thread_id, "server": "echo"},
            "threadless": {"server": "echo", "uri": "echo://greeting"},
            "threadless_failed": {"server": "broken", "uri": "echo://greeting"},
        }
        answers = {}
        for name, params in requests.items():
            response = app.wait_response(app.request(READ, params), timeout=60)
            answers[name] = response.get("result", response.get("error"))
        app.close()
    return answers


@pytest.mark.reference
def test_reads_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    ref, ours = run_both(
        reference_codex, tmp_path, lambda command, home, _model: _scenario(command, home),
        extra=lambda name: config_toml(tmp_path / f"{name}.pids"),
    )
    assert_same_keys(ref, ours)
