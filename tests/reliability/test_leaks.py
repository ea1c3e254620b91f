"""Leaks: 200 thread start → unload → resume → unload cycles, with a config.toml stdio server
(local child) and a selected plugin whose stdio server runs inside an executor.

Cycles run eight at a time. Most cycles unload at once (the servers are torn down while they start: the hardest moment
for a leak); every tenth cycle first makes a direct call to both servers, so they are fully up.
Afterwards the app-server's process tree (the executor and its children included) and its
open file descriptors return to what they were after one warm-up cycle.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import live_children
from tests.fixtures.mock_model import MockModel, write_config
from tests.reliability.helpers import echo_server_toml
from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments, write_plugin

pytestmark = pytest.mark.timeout(400)

CYCLES = int(os.environ.get("ROOTSTEP_LEAK_CYCLES", "200"))
FULL_EVERY = 10
WORKERS = 8


def fds(pid: int) -> int:
    return psutil.Process(pid).num_fds()


def settle(app_pid: int, processes: int, descriptors: int, timeout: float = 30.0) -> tuple[int, int]:
    """Wait (bounded) for the counts to come back; returns the last values seen."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        now = (len(live_children(app_pid)), fds(app_pid))
        if now == (processes, descriptors) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def test_thread_cycles_leave_no_process_or_descriptor(tmp_path: Path, record_property: Any) -> None:
    home = tmp_path / "home"
    before = live_children()
    with MockModel() as model:
        write_config(home, model, extra=echo_server_toml("local_echo"))
        write_environments(home, ROOTSTEP_EXECUTOR)
        plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "plugin.pids", skill=False, env_vars=False)
        selection = [root("executor-demo@1", "executor-1", plugin)]
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            assert app.proc is not None
            pid = app.proc.pid

            def cycle(n: int, full: bool) -> None:
                thread_id = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selection})[
                    "thread"]["id"]
                if n < 0:  # the executor starts with the first thread that needs it
                    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
                if full:
                    for server in ("local_echo", "executor_demo"):
                        result = app.call("mcpServer/tool/call", {"threadId": thread_id, "server": server,
                                                                  "tool": "echo", "arguments": {"message": f"{n}"}})
                        assert result["content"][0]["text"] == f"ECHOING: {n}"
                assert app.call("thread/unsubscribe", {"threadId": thread_id})["status"] == "unsubscribed"
                app.call("thread/resume", {"threadId": thread_id})
                assert app.call("thread/unsubscribe", {"threadId": thread_id})["status"] == "unsubscribed"

            cycle(-1, full=True)  # warm-up: the executor and lazily created clients exist from here on
            start = settle(pid, -1, -1, timeout=1.0)
            start = settle(pid, *start, timeout=10.0)
            # Eight clients' worth of cycles at once (each thread's requests stay in order).
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                for future in [pool.submit(cycle, n, n % FULL_EVERY == 0) for n in range(CYCLES)]:
                    future.result()
            assert app.call("thread/loaded/list", {})["data"] == []
            end = settle(pid, *start)
            app.assert_schema_clean()
            assert app.close(timeout=60) == 0
    assert live_children() - before == set()
    summary = (f"{CYCLES} cycles: app-server processes below it {start[0]} -> {end[0]}, "
               f"open fds {start[1]} -> {end[1]}")
    print("\nleaks:", summary)
    record_property("leak_summary", summary)
    assert end == start, summary
