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

import asyncio
import json
import logging
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.sync.client import connect

from rootstep.app_server.listeners import ACCEPT_EXHAUSTED, Throttle, quiet_accept_errors
from tests.e2e.test_listeners import ListeningServer, WsClient
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import MockModel, write_config
from tests.security.conftest import capped_rootstep, memory_capped

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
    limits = {"ROOTSTEP_MAX_TEMPORARY_MCP_SERVERS": str(limit)}
    with AppServerProcess(home, command=capped_rootstep(), env=limits) as app:
        app.initialize()
        ids = {app.request("mcpServer/resource/read", {"server": "slow", "uri": f"memo://{i}"})
               for i in range(requests)}
        queued = limit + limit * 8  # running, plus waiting for a slot
        overloaded = [app.wait_for(lambda m: m.get("id") in ids and m.get("error", {}).get("code") == -32001)
                      for _ in range(requests - queued)]
        assert all(r["error"]["message"] == "Server overloaded; retry later." for r in overloaded)
        wait_until(lambda: log.exists() and log.read_text().count("start") == limit)  # the others wait
        release.touch()
        rest = ids - {r["id"] for r in overloaded}
        answered = [app.wait_response(i, timeout=120) for i in rest]
        assert {r["error"]["message"] for r in answered} == {
            "failed to get client: MCP startup failed: Connection closed"}
        assert peak_running(log) == limit
        app.assert_schema_clean()


def test_a_connection_flood_neither_exhausts_descriptors_nor_floods_the_log(tmp_path: Path, model: MockModel) -> None:
    """150 idle TCP connections to a websocket listener allowed 128 descriptors: the server
    holds at most 64 (half) and aborts the rest as they come, says so in a line or two, never
    runs out of descriptors (no ``socket.accept() out of system resource``, which it used to log
    thousands of times a second), and serves a real client once the flood is gone."""
    home = tmp_path / "home"
    write_config(home, model)
    argv = memory_capped([sys.executable, "-m", "rootstep", "app-server", "--listen", "ws://127.0.0.1:0"], nofile=128)
    server = ListeningServer(home, "ws://127.0.0.1:0", argv=argv)
    flood: list[socket.socket] = []
    try:
        host, port = server.url().removeprefix("ws://").rsplit(":", 1)
        for _ in range(150):
            flood.append(socket.create_connection((host, int(port)), timeout=30))
        server.wait_line("refusing connections:")
        for conn in flood:
            conn.close()
        with connect(server.url(), open_timeout=30) as ws:
            client = WsClient(home, ws)
            client.initialize()
            assert client.call("thread/start", {})["thread"]["id"]
        assert server.terminate() == 0
        stderr = "\n".join(server.lines)
        assert "out of system resource" not in stderr
        assert stderr.count("refusing connections:") <= 2, stderr
    finally:
        for conn in flood:
            conn.close()
        server.kill()


def test_the_out_of_descriptors_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    """When descriptors do run out (for another reason), asyncio reports every failed accept:
    one line gets through per 10 s, other loop errors are untouched."""
    loop = asyncio.new_event_loop()
    try:
        quiet_accept_errors(loop)
        with caplog.at_level(logging.ERROR):
            for _ in range(1000):
                loop.call_exception_handler({"message": ACCEPT_EXHAUSTED,
                                             "exception": OSError(24, "Too many open files")})
            loop.call_exception_handler({"message": "something else"})
        lines = [r.getMessage() for r in caplog.records]
        assert len([line for line in lines if ACCEPT_EXHAUSTED in line]) == 1
        assert any("something else" in line for line in lines)
    finally:
        loop.close()


def test_throttle_counts_what_it_suppressed() -> None:
    throttle = Throttle(interval=10.0)
    assert throttle.due(100.0)
    assert not throttle.due(105.0) and not throttle.due(109.9)
    assert throttle.due(110.0) and throttle.take_suppressed() == 2
