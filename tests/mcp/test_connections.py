"""ConnectionManager over real stdio echo servers: startup, failures, crashes, bad output, reaping."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.manager import ConnectionManager, ToolCallTimeout
from rootstep.mcp.startup import StartupStatus
from rootstep.mcp.step_tools import call_error_text
from rootstep.mcp.transports.factory import DefaultTransports
from tests.fixtures.mcp_helpers import alive, echo_config, read_pids

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaks")]


def collector() -> tuple[list[StartupStatus], object]:
    events: list[StartupStatus] = []

    async def on_status(status: StartupStatus) -> None:
        events.append(status)

    return events, on_status


async def test_servers_start_concurrently_and_failures_stay_local(tmp_path: Path):
    pid_file = tmp_path / "pids"
    servers = {
        "echo": echo_config(env={"MCP_TEST_PID_FILE": str(pid_file), "MARK": "marked"}),
        "missing": McpServerConfig.from_toml({"command": str(tmp_path / "no-such-binary")}),
        "exits": echo_config(env={"MCP_TEST_EXIT_AT_START": "3"}),
        "sleepy": echo_config(env={"MCP_TEST_STARTUP_DELAY": "30"}, startup_timeout_sec=1),
        "off": echo_config(enabled=False),
    }
    events, on_status = collector()
    async with ConnectionManager(servers, transports=DefaultTransports(), on_status=on_status) as manager:
        connections = await manager.wait_ready()
        assert set(connections) == {"echo", "missing", "exits", "sleepy"}  # disabled never starts
        assert connections["echo"].state == "ready"
        assert "echo" in [t.name for t in connections["echo"].tools]
        assert connections["echo"].instructions and "Echo server" in connections["echo"].instructions
        errors = {n: c.error for n, c in connections.items() if c.state == "failed"}
        assert errors["missing"].startswith("MCP client for `missing` failed to start: MCP startup failed: ")
        assert errors["missing"].endswith("No such file or directory (os error 2)")
        assert errors["exits"].startswith("MCP client for `exits` failed to start: MCP startup failed: ")
        assert "timed out after 1 seconds" in errors["sleepy"]
        # the healthy server is unaffected
        result = await manager.call_tool("echo", "echo", {"message": "hi", "env_var": "MARK"})
        assert result.structured_content == {"echo": "ECHOING: hi", "env": "marked"}
        [pid] = read_pids(pid_file)
        assert alive(pid)
    assert not alive(pid)
    by_server: dict[str, list[str]] = {}
    for event in events:
        by_server.setdefault(event.name, []).append(event.status)
    assert by_server == {"echo": ["starting", "ready"], "missing": ["starting", "failed"],
                         "exits": ["starting", "failed"], "sleepy": ["starting", "failed"]}


async def test_environment_is_cleared_to_the_pass_through_set(monkeypatch):
    monkeypatch.setenv("ROOTSTEP_SECRET_FOR_TEST", "leak")
    monkeypatch.setenv("ROOTSTEP_NAMED_FOR_TEST", "named")
    servers = {"echo": echo_config(env_vars=["ROOTSTEP_NAMED_FOR_TEST"], env={"LIT": "literal"})}
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()

        async def env_of(name: str) -> object:
            result = await manager.call_tool("echo", "echo", {"message": "m", "env_var": name})
            return result.structured_content["env"]

        assert await env_of("ROOTSTEP_SECRET_FOR_TEST") is None
        assert await env_of("ROOTSTEP_NAMED_FOR_TEST") == "named"
        assert await env_of("LIT") == "literal"
        assert await env_of("PATH") is not None


async def test_crash_mid_call_is_an_error_and_the_next_use_restarts(tmp_path: Path):
    pid_file = tmp_path / "pids"
    servers = {"echo": echo_config(env={"MCP_TEST_PID_FILE": str(pid_file)}, tool_timeout_sec=30)}
    events, on_status = collector()
    async with ConnectionManager(servers, transports=DefaultTransports(), on_status=on_status) as manager:
        await manager.wait_ready()
        with anyio.fail_after(10):  # far below tool_timeout_sec: the crash is noticed, not waited out
            with pytest.raises(MCPError) as caught:
                await manager.call_tool("echo", "crash", {})
        assert "closed the connection" in call_error_text("echo", "crash", caught.value)
        result = await manager.call_tool("echo", "echo", {"message": "again"})
        assert result.content[0].text == "ECHOING: again"
        first, second = read_pids(pid_file)
        assert first != second and not alive(first) and alive(second)
    assert [e.status for e in events] == ["starting", "ready", "starting", "ready"]


async def test_slow_call_times_out_and_the_server_keeps_serving():
    servers = {"echo": echo_config(tool_timeout_sec=0.5)}
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()
        with pytest.raises(ToolCallTimeout, match="timed out after 0.5 seconds"):
            await manager.call_tool("echo", "slow", {"seconds": 30})
        result = await manager.call_tool("echo", "echo", {"message": "still here"})
        assert result.content[0].text == "ECHOING: still here"


async def test_malformed_and_non_utf8_results_are_clear_errors_and_the_session_survives():
    servers = {"echo": echo_config(tool_timeout_sec=20)}
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()
        with pytest.raises(Exception) as malformed:
            await manager.call_tool("echo", "malformed", {})
        assert "returned a malformed result for `malformed`" in call_error_text("echo", "malformed", malformed.value)
        with anyio.fail_after(10):
            with pytest.raises(MCPError) as undecodable:
                await manager.call_tool("echo", "garbage", {"kind": "utf8"})
        assert "not valid UTF-8" in call_error_text("echo", "garbage", undecodable.value)
        # a stray non-JSON line is skipped; the call it precedes still answers
        result = await manager.call_tool("echo", "garbage", {"kind": "json"})
        assert result.content[0].text == "wrote garbage"
        result = await manager.call_tool("echo", "echo", {"message": "ok"})
        assert result.content[0].text == "ECHOING: ok"


async def test_paginated_tool_listing_and_tool_filters():
    servers = {
        "many": echo_config(env={"MCP_TEST_TOOL_COUNT": "25"}),
        "filtered": echo_config(enabled_tools=["echo", "slow", "big"], disabled_tools=["slow"]),
    }
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        connections = await manager.wait_ready()
        names = [t.name for t in connections["many"].tools]
        assert len(names) == len(set(names))
        assert {f"tool_{i}" for i in range(25)} | {"echo", "progress"} <= set(names)  # every page was read
        assert sorted(t.name for t in connections["filtered"].tools) == ["big", "echo"]
        result = await manager.call_tool("many", "tool_24", {})
        assert result.content[0].text == "tool_24 called"


async def test_close_during_startup_reaps_the_child(tmp_path: Path):
    pid_file = tmp_path / "pids"
    servers = {"sleepy": echo_config(env={"MCP_TEST_PID_FILE": str(pid_file), "MCP_TEST_STARTUP_DELAY": "30"})}
    events, on_status = collector()
    async with anyio.create_task_group() as owner:
        manager = ConnectionManager(servers, transports=DefaultTransports(), on_status=on_status, owner=owner)
        await manager.start()
        with anyio.fail_after(10):
            while not read_pids(pid_file):
                await anyio.sleep(0.05)
        await manager.aclose()
    [pid] = read_pids(pid_file)
    assert not alive(pid)
    assert [e.status for e in events] == ["starting", "cancelled"]


async def test_server_ignoring_sigterm_is_killed(tmp_path: Path):
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, sys, runpy\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"sys.argv = [{str(echo_config().transport.args[0])!r}]\n"
        f"runpy.run_path({str(echo_config().transport.args[0])!r}, run_name='__main__')\n"
        "import time\n"
        "while True:\n"
        "    time.sleep(1)  # survives stdin EOF and SIGTERM: only SIGKILL ends it\n"
    )
    pid_file = tmp_path / "pids"
    servers = {"stubborn": McpServerConfig.from_toml({"command": sys.executable, "args": [str(script)],
                                                      "env": {"MCP_TEST_PID_FILE": str(pid_file)}})}
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()
        assert (await manager.call_tool("stubborn", "echo", {"message": "x"})).content[0].text == "ECHOING: x"
    [pid] = read_pids(pid_file)
    assert not alive(pid)
