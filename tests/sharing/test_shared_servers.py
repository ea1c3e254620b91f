"""Shareable MCP servers: one process for every thread holding the identical server.

Ten threads select the same plugin whose server is declared ``shareable``: exactly one server
process runs (counted with psutil), every thread's direct call is answered with its own
``_meta.threadId``, and unloading every thread stops the process. A server without the flag
stays one process per thread, and the same server name with a different environment is another
process. A crashed shared server fails the call and is restarted by the next one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, write_config
from tests.reliability.helpers import describe, echo_pids, wait_until

pytestmark = pytest.mark.timeout(120)

SERVER = "shared_echo"


def write_plugin(root: Path, *, shareable: bool, env: dict[str, str] | None = None, name: str = "share-demo") -> Path:
    """A plugin whose one stdio echo server may be declared shareable."""
    (root / ".codex-plugin").mkdir(parents=True, exist_ok=True)
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": name}))
    server: dict[str, Any] = {"command": sys.executable, "args": [ECHO_SERVER], "env": env or {}}
    if shareable:
        server["shareable"] = True
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {SERVER: server}}))
    return root


def selection(path: Path, root_id: str = "share-demo@1") -> list[dict[str, Any]]:
    return [{"id": root_id, "location": {"type": "environment", "environmentId": "local", "path": str(path)}}]


def start_threads(app: AppServerProcess, roots: list[dict[str, Any]], count: int) -> list[str]:
    return [
        app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": roots})["thread"]["id"]
        for _ in range(count)
    ]


def call_echo(app: AppServerProcess, thread_id: str, message: str) -> dict[str, Any]:
    return app.call(
        "mcpServer/tool/call",
        {"threadId": thread_id, "server": SERVER, "tool": "echo", "arguments": {"message": message}},
    )


def pipelined_calls(app: AppServerProcess, threads: list[str]) -> dict[str, dict[str, Any]]:
    """One call per thread, all written before any answer is read (concurrent on the server)."""
    ids = {
        thread_id: app.request(
            "mcpServer/tool/call",
            {"threadId": thread_id, "server": SERVER, "tool": "echo", "arguments": {"message": thread_id}},
        )
        for thread_id in threads
    }
    return {thread_id: app.wait_response(req) for thread_id, req in ids.items()}


def unload(app: AppServerProcess, threads: list[str]) -> None:
    for thread_id in threads:
        assert app.call("thread/unsubscribe", {"threadId": thread_id})["status"] == "unsubscribed"


@pytest.fixture
def home(tmp_path: Path):  # noqa: ANN201
    with MockModel() as model:
        home = tmp_path / "home"
        write_config(home, model)
        yield home


def test_ten_threads_share_one_process_until_the_last_unloads(tmp_path: Path, home: Path) -> None:
    before = descendants()
    plugin = write_plugin(tmp_path / "plugin", shareable=True)
    with AppServerProcess(home) as app:
        app.initialize()
        assert app.proc is not None
        threads = start_threads(app, selection(plugin), 10)
        answers = pipelined_calls(app, threads)
        for thread_id, message in answers.items():
            assert "error" not in message, message
            result = message["result"]
            assert result["content"][0]["text"] == f"ECHOING: {thread_id}"
            assert result["structuredContent"]["threadId"] == thread_id
        servers = echo_pids(app.proc.pid)
        assert len(servers) == 1, describe(servers)

        # Half the threads go: the process stays for the others.
        unload(app, threads[:5])
        assert call_echo(app, threads[7], "still here")["structuredContent"]["threadId"] == threads[7]
        assert echo_pids(app.proc.pid) == servers

        # The last one goes: the process goes.
        unload(app, threads[5:])
        wait_until(lambda: not echo_pids(app.proc.pid), what="the shared server to stop")

        # A new thread starts it again.
        again = start_threads(app, selection(plugin), 1)[0]
        assert call_echo(app, again, "back")["structuredContent"]["threadId"] == again
        restarted = echo_pids(app.proc.pid)
        assert len(restarted) == 1 and restarted != servers
        app.assert_schema_clean()
        assert app.close() == 0
    assert not descendants() - before


def test_non_shareable_server_runs_once_per_thread(tmp_path: Path, home: Path) -> None:
    plugin = write_plugin(tmp_path / "plugin", shareable=False)
    with AppServerProcess(home) as app:
        app.initialize()
        assert app.proc is not None
        threads = start_threads(app, selection(plugin), 3)
        for thread_id, message in pipelined_calls(app, threads).items():
            assert message["result"]["structuredContent"]["threadId"] == thread_id
        assert len(echo_pids(app.proc.pid)) == 3
        unload(app, threads)
        wait_until(lambda: not echo_pids(app.proc.pid), what="the per-thread servers to stop")
        assert app.close() == 0


def test_different_environment_is_another_process(tmp_path: Path, home: Path) -> None:
    first = write_plugin(tmp_path / "one", shareable=True, env={"ECHO_FLAVOUR": "one"})
    second = write_plugin(tmp_path / "two", shareable=True, env={"ECHO_FLAVOUR": "two"})
    with AppServerProcess(home) as app:
        app.initialize()
        assert app.proc is not None
        threads = (
            start_threads(app, selection(first), 2)
            + start_threads(app, selection(second), 2)
            + start_threads(app, selection(first, "share-demo@3"), 1)
        )
        for thread_id, message in pipelined_calls(app, threads).items():
            assert message["result"]["structuredContent"]["threadId"] == thread_id
        # The same plugin under another root id is the identical server: one process; "two"
        # differs by its environment (a plugin elsewhere would differ by its folder too).
        servers = echo_pids(app.proc.pid)
        assert len(servers) == 2, describe(servers)
        unload(app, threads)
        wait_until(lambda: not echo_pids(app.proc.pid), what="the shared servers to stop")
        assert app.close() == 0


def test_crashed_shared_server_fails_every_call_then_restarts_for_everyone(tmp_path: Path, home: Path) -> None:
    plugin = write_plugin(tmp_path / "plugin", shareable=True)
    with AppServerProcess(home) as app:
        app.initialize()
        assert app.proc is not None
        threads = start_threads(app, selection(plugin), 3)
        pipelined_calls(app, threads)
        (server,) = echo_pids(app.proc.pid)
        slow = {
            thread_id: app.request(
                "mcpServer/tool/call",
                {"threadId": thread_id, "server": SERVER, "tool": "slow", "arguments": {"seconds": 60}},
            )
            for thread_id in threads
        }

        def statuses(thread_id: str) -> list[str]:
            return [m["params"]["status"] for m in app.notifications("mcpServer/startupStatus/updated")
                    if m["params"]["threadId"] == thread_id and m["params"]["name"] == SERVER]

        for thread_id in threads:
            wait_until(lambda thread_id=thread_id: statuses(thread_id)[-1:] == ["ready"], what=f"ready for {thread_id}")
        seen = {thread_id: len(statuses(thread_id)) for thread_id in threads}
        os.kill(server, signal.SIGKILL)
        # Every caller's call fails (an error, never a hang).
        for req in slow.values():
            answer = app.wait_response(req)
            assert "error" in answer or answer["result"].get("isError"), answer
        # The next call restarts the one process, and every thread is told so.
        for thread_id, message in pipelined_calls(app, threads).items():
            assert message["result"]["structuredContent"]["threadId"] == thread_id, message
        restarted = echo_pids(app.proc.pid)
        assert len(restarted) == 1 and server not in restarted
        for thread_id in threads:
            wait_until(lambda thread_id=thread_id: statuses(thread_id)[seen[thread_id]:] == ["starting", "ready"],
                       what=f"a restart status for {thread_id}")
        unload(app, threads)
        wait_until(lambda: not echo_pids(app.proc.pid), what="the shared server to stop")
        assert app.close() == 0


def test_elicitation_reaches_the_thread_whose_call_is_in_flight(tmp_path: Path, home: Path) -> None:
    """A shared server's elicitation goes to the one thread with a call in flight; with calls of
    several threads in flight it cannot tell whose it is, and declines."""
    plugin = write_plugin(tmp_path / "plugin", shareable=True)
    elicit = "mcpServer/elicitation/request"
    with AppServerProcess(home) as app:
        app.initialize()
        assert app.proc is not None
        first, second = start_threads(app, selection(plugin), 2)
        pipelined_calls(app, [first, second])
        call = app.request("mcpServer/tool/call", {"threadId": second, "server": SERVER, "tool": "elicit",
                                                   "arguments": {"mode": "form"}})
        request = app.wait_for(lambda m: m.get("method") == elicit and "id" in m, what=elicit, timeout=60)
        assert request["params"]["threadId"] == second and request["params"]["serverName"] == SERVER
        app.send({"id": request["id"], "result": {"action": "accept", "content": {"color": "blue"}}})
        assert app.wait_response(call)["result"]["content"] == [{"type": "text", "text": 'accept:{"color": "blue"}'}]

        slow = app.request("mcpServer/tool/call", {"threadId": first, "server": SERVER, "tool": "slow",
                                                   "arguments": {"seconds": 60}})
        ambiguous = app.request("mcpServer/tool/call", {"threadId": second, "server": SERVER, "tool": "elicit",
                                                        "arguments": {"mode": "form"}})
        assert app.wait_response(ambiguous)["result"]["content"] == [{"type": "text", "text": "decline:null"}]
        assert len([m for m in app.messages if m.get("method") == elicit]) == 1
        assert len(echo_pids(app.proc.pid)) == 1
        unload(app, [first, second])
        answer = app.wait_response(slow)
        assert "error" in answer or answer["result"].get("isError"), answer
        wait_until(lambda: not echo_pids(app.proc.pid), what="the shared server to stop")
        assert app.close() == 0


def test_config_toml_shareable_server_is_shared_by_plain_threads(tmp_path: Path) -> None:
    """``[mcp_servers.X] shareable = true`` in config.toml: threads without roots share it too."""
    from tests.reliability.helpers import echo_server_toml

    home = tmp_path / "home"
    with MockModel() as model:
        write_config(home, model, extra=echo_server_toml(SERVER, extra="shareable = true\n"))
        with AppServerProcess(home) as app:
            app.initialize()
            assert app.proc is not None
            threads = [app.call("thread/start", {"model": "mock-model"})["thread"]["id"] for _ in range(4)]
            for thread_id, message in pipelined_calls(app, threads).items():
                assert message["result"]["structuredContent"]["threadId"] == thread_id, message
            servers = echo_pids(app.proc.pid)
            assert len(servers) == 1, describe(servers)
            unload(app, threads)
            wait_until(lambda: not echo_pids(app.proc.pid), what="the shared server to stop")
            assert app.close() == 0
