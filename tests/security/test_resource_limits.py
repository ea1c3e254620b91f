"""Bounds on what many requests or many connections can make the server hold (issue 16,
items 12 and 13).

* ``mcpServer/resource/read`` without a ``threadId`` starts a temporary MCP server per request:
  1,000 requests started 1,000 processes at once (codex 0.169: ~230, the rest ``-32001``). Now
  at most ``ROOTSTEP_MAX_TEMPORARY_MCP_SERVERS`` run at once and a request that would wait behind
  8 times as many is answered ``-32001 Server overloaded; retry later.``.
* While file descriptors were exhausted, asyncio logged ``socket.accept() out of system
  resource`` thousands of times a second. Now connections are capped below ``RLIMIT_NOFILE``
  (refused at once past the cap) and that log is rate-limited.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import MockModel, write_config
from tests.security.conftest import capped_rootstep

pytestmark = pytest.mark.timeout(180)

# A "server" that records its start, waits for the test's go-ahead, records its end and exits
# (so its startup fails and its request is answered).
BLOCKING_SERVER = """
import os, sys, time
log, release = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(f"start {os.getpid()}\\n")
while not os.path.exists(release):
    time.sleep(0.02)
with open(log, "a") as f:
    f.write(f"end {os.getpid()}\\n")
"""


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll for a state the test needs (a correctness wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def peak_running(log: Path) -> int:
    running = peak = 0
    for line in log.read_text().split("\n"):
        if line.startswith("start"):
            running += 1
            peak = max(peak, running)
        elif line.startswith("end"):
            running -= 1
    return peak


def test_temporary_resource_servers_are_bounded(tmp_path: Path, model: MockModel) -> None:
    log, release = tmp_path / "servers.log", tmp_path / "release"
    home = tmp_path / "home"
    write_config(home, model, extra=(
        f"\n[mcp_servers.slow]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [\"-c\", {json.dumps(BLOCKING_SERVER)}, {json.dumps(str(log))}, {json.dumps(str(release))}]\n"
        "startup_timeout_sec = 60\n"
    ))
    limit, requests = 2, 30
    with AppServerProcess(home, command=capped_rootstep(), env={"ROOTSTEP_MAX_TEMPORARY_MCP_SERVERS": str(limit)}) as app:
        app.initialize()
        ids = {app.request("mcpServer/resource/read", {"server": "slow", "uri": f"memo://{i}"}) for i in range(requests)}
        queued = limit + limit * 8  # running, plus waiting for a slot
        overloaded = [app.wait_for(lambda m: m.get("id") in ids and m.get("error", {}).get("code") == -32001)
                      for _ in range(requests - queued)]
        assert all(r["error"]["message"] == "Server overloaded; retry later." for r in overloaded)
        wait_until(lambda: log.exists() and log.read_text().count("start") == limit)  # the others wait
        release.touch()
        rest = ids - {r["id"] for r in overloaded}
        answered = [app.wait_response(i, timeout=120) for i in rest]
        assert {r["error"]["message"] for r in answered} == {"failed to get client: MCP startup failed: Connection closed"}
        assert peak_running(log) == limit
        app.assert_schema_clean()
