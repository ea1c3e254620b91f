"""Load: 50 threads select the same executor-hosted plugin and run turns concurrently while
1,000 ``mcpServer/tool/call`` requests are in flight across them, twice.

No request is lost or answered twice, every answer is the one its request asked for (each call
echoes a unique message; each turn's tool result names its own thread), nothing deadlocks, and
the app-server's memory is bounded: the second wave of 1,000 calls does not grow the RSS the way
a per-call leak would. The plugin's server runs once per thread inside the executor (50
processes), and every process is gone after shutdown.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fixtures.app_server import AppServerProcess, text
from tests.fixtures.mcp_helpers import live_children, read_pids
from tests.fixtures.mock_model import MockResponse, assistant_text, function_call_response, write_config
from tests.reliability.flaky_model import FlakyModel
from tests.reliability.helpers import wait_until
from tests.selected_roots.helpers import CONNECTED, ROOTSTEP_EXECUTOR, root, write_environments, write_plugin

pytestmark = pytest.mark.timeout(400)

THREADS = 50
CALLS = 1000
# A per-call leak of even 20 KiB would show as 20 MB per wave; generous for allocator noise.
WAVE_GROWTH_LIMIT = 24 * 1024 * 1024


def step_answer(body: dict[str, Any]) -> MockResponse:
    """First step of a turn: call echo with the user's text; after the tool output: answer."""
    items = body.get("input", [])
    last = items[-1] if items else {}
    if last.get("type") == "function_call_output":
        return assistant_text("done")
    user = next(i for i in reversed(items) if i.get("role") == "user")
    prompt = next(c["text"] for c in user["content"] if c.get("type") == "input_text")
    return function_call_response(f"call-{prompt}", "echo", json.dumps({"message": prompt}),
                                  namespace="mcp__executor_demo")


class RssSampler:
    """Samples the app-server's RSS in the background; ``peak`` since the last ``reset``."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return self.process.memory_info().rss

    def reset(self) -> None:
        self.peak = self.now()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.now())
            except psutil.NoSuchProcess:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wave(app: AppServerProcess, threads: list[str], tag: str, *, with_turns: bool) -> None:
    """Send 50 turn/starts (optional) and 1,000 tool calls in one write, then check every answer."""
    calls: dict[Any, tuple[str, str]] = {}
    lines: list[str] = []
    turns: dict[Any, str] = {}
    if with_turns:
        for index, thread_id in enumerate(threads):
            req_id = f"turn-{tag}-{index}"
            app._methods[req_id] = "turn/start"
            turns[req_id] = thread_id
            lines.append(json.dumps({"id": req_id, "method": "turn/start",
                                     "params": {"threadId": thread_id, "input": [text(f"{tag}-t{index}")]}}))
    for n in range(CALLS):
        thread_id = threads[n % len(threads)]
        req_id = f"call-{tag}-{n}"
        message = f"{tag}-m{n}"
        app._methods[req_id] = "mcpServer/tool/call"
        calls[req_id] = (thread_id, message)
        lines.append(json.dumps({"id": req_id, "method": "mcpServer/tool/call", "params": {
            "threadId": thread_id, "server": "executor_demo", "tool": "echo", "arguments": {"message": message}}}))
    app.send_raw("\n".join(lines))
    for req_id, (thread_id, message) in calls.items():
        response = app.wait_response(req_id, timeout=180)
        assert "result" in response, response
        assert response["result"]["structuredContent"] == {"echo": f"ECHOING: {message}", "env": None,
                                                          "threadId": thread_id}
    started = {}
    for req_id, thread_id in turns.items():
        response = app.wait_response(req_id, timeout=180)
        assert "result" in response, response
        started[response["result"]["turn"]["id"]] = thread_id
    for turn_id, thread_id in started.items():
        done = app.wait_notification("turn/completed", lambda m, t=turn_id: m["params"]["turn"]["id"] == t, timeout=180)
        assert done["params"]["turn"]["status"] == "completed", done
        [item] = [m["params"]["item"] for m in app.notifications("item/completed")
                  if m["params"]["turnId"] == turn_id and m["params"]["item"]["type"] == "mcpToolCall"]
        assert item["status"] == "completed" and item["result"]["structuredContent"]["threadId"] == thread_id
        assert item["result"]["structuredContent"]["echo"].startswith(f"ECHOING: {tag}-t")


def test_fifty_threads_one_plugin_a_thousand_calls_in_flight(tmp_path: Path, record_property: Any) -> None:
    home = tmp_path / "home"
    pid_file = tmp_path / "pids.txt"
    before = live_children()
    with FlakyModel(responder=step_answer) as model:
        write_config(home, model)
        write_environments(home, ROOTSTEP_EXECUTOR)
        plugin = write_plugin(tmp_path / "plugin", pid_file=pid_file, skill=False, env_vars=False)
        selection = [root("executor-demo@1", "executor-1", plugin)]
        with AppServerProcess(home, env={"ROOTSTEP_LOG": "INFO"}) as app:
            app.initialize()
            threads = [app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selection})
                       ["thread"]["id"] for _ in range(THREADS)]
            # Readiness is a fact, never a wait: a call before the executor is up finds no plugin.
            app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
            assert app.proc is not None
            sampler = RssSampler(app.proc.pid)
            try:
                start_rss = sampler.now()
                wave(app, threads, "w1", with_turns=True)
                warm_rss = sampler.now()
                sampler.reset()
                wave(app, threads, "w2", with_turns=True)
                after_rss, peak = sampler.now(), sampler.peak
            finally:
                sampler.stop()
            # One server process per thread, each started once: no restarts, no duplicates.
            assert len(read_pids(pid_file)) == THREADS
            every_id = [m["id"] for m in app.messages if "method" not in m and m.get("id") is not None]
            assert len(every_id) == len(set(map(json.dumps, every_id))), "a request was answered twice"
            app.assert_schema_clean()
            assert app.close(timeout=60) == 0
    wait_until(lambda: not (live_children() - before), timeout=20, what="every process reaped")
    growth = after_rss - warm_rss
    mib = 1024 * 1024
    summary = (f"{THREADS} threads, 2x{CALLS} calls + 2x{THREADS} turns; "
               f"app-server RSS start {start_rss / mib:.0f} MiB, "
               f"after wave 1 {warm_rss / mib:.0f} MiB, peak in wave 2 {peak / mib:.0f} MiB, "
               f"after wave 2 {after_rss / mib:.0f} MiB")
    print("\nload:", summary)
    record_property("load_summary", summary)
    assert growth < WAVE_GROWTH_LIMIT, summary
    assert peak < warm_rss + 4 * WAVE_GROWTH_LIMIT, summary  # no burst buffering 1,000 answers at once
