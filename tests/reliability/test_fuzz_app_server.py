"""Fuzz ``rootstep app-server``'s stdin with hypothesis, on ONE long-lived process.

Phase A sends hostile batches before the handshake (every request but ``initialize`` must get
``-32600 Not initialized``; a fuzzed ``initialize`` that happens to be valid initializes the
connection, and the oracle follows). Phase B sends them after it, with a real thread id and a
valid input among the values so that some fuzzed turns really run. Every request gets exactly
one answer, valid against the 0.169 schemas (checked by :class:`AppServerProcess` on every line
the server writes); malformed lines get one error with id ``null``; nothing is answered twice;
the process never dies; and a normal turn works at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import live_children
from tests.fixtures.mock_model import MockModel, assistant_text, write_config
from tests.reliability.fuzz import APP_FIELDS, FuzzStats, batches, classify
from tests.reliability.helpers import echo_server_toml

pytestmark = pytest.mark.timeout(300)

SCHEMA_METHODS = [b["properties"]["method"]["enum"][0] for b in json.loads(
    (Path(__file__).resolve().parent.parent / "schema" / "ClientRequest.json").read_text())["oneOf"]]
# The methods rootstep serves come first so that sampling hits them often.
SERVED = ["initialize", "thread/start", "thread/resume", "thread/fork", "thread/read", "thread/list",
          "thread/archive", "thread/unarchive", "thread/name/set", "thread/unsubscribe", "thread/loaded/list",
          "thread/compact/start", "turn/start", "turn/interrupt", "turn/steer", "model/list",
          "mcpServerStatus/list", "mcpServer/tool/call", "config/mcpServer/reload", "environment/add"]
# "initialized" too: as a notification before `initialize` (out of order) and as a request.
METHODS = SERVED * 4 + SCHEMA_METHODS + ["initialized"] * 8
# After the handshake: config/mcpServer/reload would hand every thread config.toml's servers,
# dropping the MCP thread's `thread/start.config` override (see test_reload_keeps_thread_overrides).
METHODS_B = [m for m in METHODS if m != "config/mcpServer/reload"]
KNOWN_CODES = {-32700, -32600, -32601, -32602, -32603, -32001}
# ROOTSTEP_FUZZ_SCALE=10 for a longer hunt (the suite default keeps the folder within budget).
SCALE = float(os.environ.get("ROOTSTEP_FUZZ_SCALE", "1"))
PHASE_A_EXAMPLES = int(100 * SCALE)
PHASE_B_EXAMPLES = int(250 * SCALE)

ENABLE_ECHO = {"mcp_servers.echo.enabled": True}


def templates(thread_id: str, mcp_thread: str, cwd: str) -> dict[str, list[dict[str, Any]]]:
    """Valid params of every served method (the fuzzer mutates them)."""
    text = [{"type": "text", "text": "fuzzed turn"}]
    tid = {"threadId": thread_id}
    return {
        "thread/start": [{"model": "mock-model"}, {"model": "mock-model", "ephemeral": True, "cwd": cwd}],
        "thread/resume": [tid, {"threadId": mcp_thread}],
        "thread/fork": [tid],
        "thread/read": [{**tid, "includeTurns": True}],
        "thread/list": [{"limit": 3}, {"cursor": "1", "sortKey": "updated_at"}],
        "thread/archive": [tid],
        "thread/unarchive": [tid],
        "thread/name/set": [{**tid, "name": "fuzzed"}],
        "thread/unsubscribe": [tid, {"threadId": mcp_thread}],
        "thread/loaded/list": [{}, {"limit": 1}],
        "thread/compact/start": [tid],
        "turn/start": [{**tid, "input": text}, {"threadId": mcp_thread, "input": text}],
        "turn/interrupt": [{**tid, "turnId": "x"}],
        "turn/steer": [{**tid, "input": text, "expectedTurnId": "x"}],
        "model/list": [{}],
        "mcpServerStatus/list": [{}, {"threadId": mcp_thread, "detail": "toolsAndAuthOnly"}],
        "mcpServer/tool/call": [
            {"threadId": mcp_thread, "server": "echo", "tool": "echo", "arguments": {"message": "fuzz"}},
            {"threadId": mcp_thread, "server": "echo", "tool": "big", "arguments": {"bytes": 1000}},
            {"threadId": mcp_thread, "server": "echo", "tool": "fail", "arguments": {}},
        ],
        "initialize": [{"clientInfo": {"name": "fuzz", "version": "1"}, "capabilities": {"experimentalApi": True}}],
    }


class Fuzzer:
    """Sends batches to one server and checks every answer against the oracle."""

    def __init__(self, app: AppServerProcess) -> None:
        self.app = app
        self.stats = FuzzStats()
        self.initialized = False
        self.answered: set[Any] = set()
        # Threads the fuzzer keeps loaded (unarchived and resumed after a fuzzed
        # archive/unsubscribe), so that later examples reach the handlers again.
        self.keep_loaded: dict[str, dict[str, Any]] = {}

    def _null_errors(self, start: int, end: int) -> int:
        with self.app._cond:
            window = self.app.messages[start:end]
        return sum(1 for m in window if "method" not in m and m.get("id", 0) is None and "error" in m)

    def run(self, lines: list[bytes]) -> None:
        app = self.app
        verdicts = [classify(line) for line in lines]
        for line, verdict in zip(lines, verdicts, strict=True):
            self.stats.add(line, verdict)
            if verdict.kind == "request":
                app._methods[verdict.id] = verdict.method
        with app._cond:
            start = len(app.messages)
        app.send_raw(b"\n".join(lines) + b"\n")
        # Lines are read in order and malformed ones are answered before the next is read, so
        # once the sentinel's answer is in, every null-id error of this batch is too.
        sentinel = app.wait_response(app.request("thread/loaded/list", {}), timeout=60)
        end = app.index_of(sentinel)
        invalid = sum(1 for v in verdicts if v.kind == "invalid")
        maybe = sum(1 for v in verdicts if v.kind == "ambiguous")
        got = self._null_errors(start, end)
        assert invalid <= got <= invalid + maybe, f"{got} null-id errors for {invalid} malformed lines: {lines!r:.600}"
        for verdict in verdicts:
            if verdict.kind != "request":
                continue
            response = app.wait_response(verdict.id, timeout=60)
            assert verdict.id not in self.answered
            self.answered.add(verdict.id)
            if "error" in response:
                error = response["error"]
                assert error["code"] in KNOWN_CODES and error["message"], response
            if not self.initialized:
                if verdict.method == "initialize":
                    self.initialized = "result" in response
                else:
                    assert response.get("error", {}).get("code") == -32600, response
                    assert response["error"]["message"] == "Not initialized", response
            elif verdict.method == "initialize":
                assert response["error"]["message"] == "Already initialized", response
        assert app.proc is not None and app.proc.poll() is None, f"app-server died:\n{app.stderr[-3000:]}"
        loaded = set(sentinel.get("result", {}).get("data", []))
        for thread_id, params in self.keep_loaded.items():
            if thread_id not in loaded:
                app.wait_response(app.request("thread/unarchive", {"threadId": thread_id}))
                app.call("thread/resume", {"threadId": thread_id, **params})

    def error_counts(self) -> dict[tuple[int, str], int]:
        counts: dict[tuple[int, str], int] = {}
        with self.app._cond:
            for m in self.app.messages:
                if "error" in m and "method" not in m:
                    key = (m["error"]["code"], m["error"]["message"][:60])
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def assert_no_duplicates(self) -> None:
        with self.app._cond:
            ids = [m["id"] for m in self.app.messages if "method" not in m and m.get("id") is not None]
        seen: set[str] = set()
        for msg_id in ids:
            key = json.dumps(msg_id)
            assert key not in seen, f"request {msg_id!r} answered twice"
            seen.add(key)


@pytest.fixture
def fuzz_home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model, extra=echo_server_toml("echo", extra="enabled = false\n"))
    return home


def test_fuzz_app_server_stdin(fuzz_home: Path, model: MockModel, record_property: Any) -> None:
    before = live_children()
    common = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
    with AppServerProcess(fuzz_home) as app:
        fuzzer = Fuzzer(app)

        @settings(max_examples=PHASE_A_EXAMPLES, **common)
        @given(batch=batches(METHODS, APP_FIELDS))
        def before_handshake(batch: list[bytes]) -> None:
            fuzzer.run(batch)

        before_handshake()
        if not fuzzer.initialized:
            app.initialize()
            fuzzer.initialized = True
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        # The one thread with the echo MCP server (disabled for every other thread: spawning a
        # server per fuzzed thread/start would cost more than the fuzzing itself).
        mcp_thread = app.call("thread/start", {"model": "mock-model", "config": ENABLE_ECHO})["thread"]["id"]
        fuzzer.keep_loaded = {thread_id: {}, mcp_thread: {"config": ENABLE_ECHO}}
        extra = [thread_id, mcp_thread, [{"type": "text", "text": "fuzzed turn"}], "mock-model", str(fuzz_home)]

        @settings(max_examples=PHASE_B_EXAMPLES, **common)
        @given(batch=batches(METHODS_B, APP_FIELDS, extra, templates=templates(thread_id, mcp_thread, str(fuzz_home))))
        def after_handshake(batch: list[bytes]) -> None:
            fuzzer.run(batch)

        after_handshake()

        # Still a working server: a normal thread and turn, answered by the model.
        model.queue(assistant_text("still serving"))
        thread = app.call("thread/start", {"model": "mock-model"})["thread"]
        turn = app.run_turn(thread["id"], "are you alive?")
        assert turn["status"] == "completed", turn
        text = [m["params"]["item"]["text"] for m in app.notifications("item/completed")
                if m["params"]["threadId"] == thread["id"] and m["params"]["item"]["type"] == "agentMessage"]
        assert text == ["still serving"]
        fuzzer.assert_no_duplicates()
        if os.environ.get("FUZZ_DEBUG"):
            for key, count in sorted(fuzzer.error_counts().items(), key=lambda kv: -kv[1]):
                print(count, key)
            results: dict[str, int] = {}
            for m in app.messages:
                if "result" in m and m.get("id") in app._methods:
                    results[app._methods[m["id"]]] = results.get(app._methods[m["id"]], 0) + 1
            print("results by method:", results)
        app.assert_schema_clean()
        assert app.close(timeout=30) == 0
    assert live_children() - before == set()
    summary = fuzzer.stats.summary()
    print(f"\napp-server fuzz: {summary}; kinds {fuzzer.stats.kinds}")
    record_property("fuzz_inputs", fuzzer.stats.lines)
    record_property("fuzz_summary", summary)
    assert fuzzer.stats.requests > 0 and fuzzer.stats.invalid > 0


def test_a_line_over_the_size_limit_is_dropped_and_answered(fuzz_home: Path) -> None:
    """65 MiB on one line (the limit is 64 MiB): one -32600 with id null, and the server goes
    on serving the next line."""
    with AppServerProcess(fuzz_home) as app:
        app.initialize()
        assert app.proc is not None and app.proc.stdin is not None
        chunk = b"x" * (1024 * 1024)
        app.proc.stdin.write(b'{"id": 1, "method": "thread/list", "params": {"cursor": "')
        for _ in range(65):
            app.proc.stdin.write(chunk)
        app.proc.stdin.write(b'"}}\n')
        app.proc.stdin.flush()
        error = app.wait_for(lambda m: m.get("id", 0) is None and "error" in m, timeout=60)
        assert error["error"]["code"] == -32600 and "exceeds the limit" in error["error"]["message"]
        assert app.call("thread/list", {})["data"] == []
        assert app.close() == 0
