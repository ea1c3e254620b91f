"""Servers whose ``environment_id`` is not ``local`` get their streams from that environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rootstep.config.mcp_servers import parse_mcp_servers
from rootstep.environments import RemoteEnvironment
from rootstep.mcp.manager import ConnectionManager
from rootstep.mcp.transports.factory import DefaultTransports
from tests.exec_server.helpers import MARKER, executor_argv
from tests.fixtures.mcp_helpers import ECHO_SERVER, alive, read_pids

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaks")]


async def test_executor_server_runs_in_the_executor_and_unknown_environments_fail(tmp_path: Path):
    argv = executor_argv("rootstep")
    pid_file = tmp_path / "pids"
    servers = parse_mcp_servers({"mcp_servers": {
        "remote": {"command": sys.executable, "args": [ECHO_SERVER], "cwd": str(tmp_path), "environment_id": "exec",
                   "env": {"MCP_TEST_PID_FILE": str(pid_file)}, "env_vars": [MARKER]},
        "nowhere": {"command": sys.executable, "args": [ECHO_SERVER], "environment_id": "missing-env"},
    }})
    async with RemoteEnvironment.connect_stdio("exec", argv[0], argv[1:], env={MARKER: "executor-only"}) as env:
        transports = DefaultTransports(environments=lambda env_id: env if env_id == "exec" else None)
        async with ConnectionManager(servers.servers, transports=transports) as manager:
            connections = await manager.wait_ready()
            assert connections["remote"].state == "ready", connections["remote"].error
            assert "environment `missing-env` is not available" in (connections["nowhere"].error or "")
            result = await manager.call_tool("remote", "echo", {"message": "hi", "env_var": MARKER})
            # the value comes from the executor's own environment, not ours
            assert result.structured_content == {"echo": "ECHOING: hi", "env": "executor-only"}
            [pid] = read_pids(pid_file)
            assert alive(pid)
        assert not alive(pid), "closing the runtime terminates the executor's process"
