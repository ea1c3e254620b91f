"""Fuzz ``rootstep exec-server --listen stdio`` with hypothesis, on ONE long-lived process.

The exec-server's contract differs from the app-server's (spec exec-server §1.4): a malformed
line is answered with an error whose id is ``-1`` and the connection stays; a notification other
than ``initialized`` or any client response is *fatal* (the connection closes, exit 0). So the
long-lived fuzz sends requests and junk only, and the fatal kinds get their own test.

Methods that change the world (``process/start``, ``fs/writeFile``, ``fs/remove``, ``fs/copy``,
``fs/createDirectory``, ``http/request``) are fuzzed with params that cannot validate (never a
real command, path or URL); the read-only ones get paths inside a scratch folder.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import live_children
from tests.reliability.fuzz import EXEC_FIELDS, FuzzStats, batches, classify, json_values

pytestmark = pytest.mark.timeout(300)

EXEC_ARGV = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
SAFE = ["initialize", "environment/info", "environment/status", "fs/getMetadata", "fs/readFile",
        "fs/readDirectory", "fs/canonicalize", "fs/walk", "fs/open", "fs/readBlock", "fs/close",
        "process/read", "process/write", "process/signal", "process/terminate", "capabilityRoots/discoverV1"]
UNSAFE = ["process/start", "fs/writeFile", "fs/remove", "fs/copy", "fs/createDirectory", "http/request"]
KNOWN_CODES = {-32600, -32601, -32602, -32603, -32004, -32010}
EXAMPLES = int(250 * float(os.environ.get("ROOTSTEP_FUZZ_SCALE", "1")))


def templates(scratch: Path) -> dict[str, list[dict[str, Any]]]:
    uri = scratch.as_uri()
    file_uri = (scratch / "a.txt").as_uri()
    return {
        "environment/info": [{}],
        "environment/status": [{}],
        "fs/getMetadata": [{"path": uri, "sandbox": None}, {"path": file_uri, "sandbox": None}],
        "fs/readFile": [{"path": file_uri, "sandbox": None}, {"path": uri + "/missing", "sandbox": None}],
        "fs/readDirectory": [{"path": uri, "sandbox": None}],
        "fs/canonicalize": [{"path": uri + "/./a.txt", "sandbox": None}],
        "fs/walk": [{"path": uri, "sandbox": None}],
        "fs/open": [{"path": file_uri, "sandbox": None}],
        "fs/readBlock": [{"handleId": "h1", "offset": 0, "maxBytes": 10}],
        "fs/close": [{"handleId": "h1"}],
        "process/read": [{"processId": "p1", "afterSeq": 0, "maxBytes": 100, "waitMs": 0}],
        "process/write": [{"processId": "p1", "chunk": base64.b64encode(b"x").decode(), "writeId": "w1"}],
        "process/signal": [{"processId": "p1"}],
        "process/terminate": [{"processId": "p1"}],
        "capabilityRoots/discoverV1": [{"roots": [{"id": "r", "path": uri}]}],
    }


def unsafe_requests_stay_invalid(lines: list[bytes]) -> list[bytes]:
    """Drop any line that would reach a world-changing handler with object params."""
    import json

    out = []
    for line in lines:
        verdict = classify(line)
        if verdict.kind == "request" and verdict.method in UNSAFE:
            params = json.loads(line).get("params")
            if isinstance(params, dict) and params:
                continue
        out.append(line)
    return out


def test_fuzz_exec_server_stdin(tmp_path: Path, record_property: Any) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "a.txt").write_text("hello")
    before = live_children()
    stats = FuzzStats()
    state = {"initialize": "new"}  # new → initializing → ready
    with AppServerProcess(tmp_path / "home", command=EXEC_ARGV, validate=False) as ex:

        def run(lines: list[bytes]) -> None:
            lines = unsafe_requests_stay_invalid(lines)
            if not lines:
                return
            verdicts = [classify(line) for line in lines]
            for line, verdict in zip(lines, verdicts, strict=True):
                stats.add(line, verdict)
            with ex._cond:
                start = len(ex.messages)
            ex.send_raw(b"\n".join(lines) + b"\n")
            # Requests are handled one at a time in order: the sentinel's answer comes last.
            sentinel = ex.wait_response(ex.request("no/such-method", {}), timeout=60)
            assert sentinel["error"]["code"] == -32601
            end = ex.index_of(sentinel)
            with ex._cond:
                window = ex.messages[start:end]
            assert sum(1 for m in window if m.get("id") == -1 and "error" in m) == \
                sum(1 for v in verdicts if v.kind == "invalid"), f"{lines!r:.600}"
            for verdict in verdicts:
                if verdict.kind != "request":
                    continue
                response = ex.wait_response(verdict.id, timeout=60)
                if "error" in response:
                    assert response["error"]["code"] in KNOWN_CODES and response["error"]["message"], response
                if verdict.method == "initialize" and "result" in response:
                    assert state["initialize"] == "new"
                    state["initialize"] = "initializing"
                elif verdict.method in SAFE[1:] and state["initialize"] == "new":
                    assert "client must call initialize" in response["error"]["message"], response
            assert ex.proc is not None and ex.proc.poll() is None, f"exec-server died:\n{ex.stderr[-3000:]}"

        common = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))

        @settings(max_examples=EXAMPLES // 3, **common)
        @given(batch=batches(SAFE + UNSAFE + ["initialized"], EXEC_FIELDS, allow_fatal=False))
        def before_handshake(batch: list[bytes]) -> None:
            run(batch)

        before_handshake()
        if state["initialize"] == "new":
            assert "result" in ex.wait_response(ex.request("initialize", {"clientName": "fuzz"}))
        ex.notify("initialized", {})
        state["initialize"] = "ready"

        extra = [scratch.as_uri(), (scratch / "a.txt").as_uri(), "p1", "h1", None]

        @settings(max_examples=EXAMPLES, **common)
        @given(batch=batches(SAFE * 3 + UNSAFE, EXEC_FIELDS, extra, templates=templates(scratch), allow_fatal=False))
        def after_handshake(batch: list[bytes]) -> None:
            run(batch)

        after_handshake()

        # Still a working executor: read a file, run a process and read its output.
        data = ex.wait_response(ex.request("fs/readFile", {"path": (scratch / "a.txt").as_uri(), "sandbox": None}))
        assert base64.b64decode(data["result"]["dataBase64"]) == b"hello"
        started = ex.wait_response(ex.request("process/start", {
            "processId": "after-fuzz", "argv": [sys.executable, "-c", "print('alive')"], "cwd": scratch.as_uri(),
            "env": {}, "tty": False, "pipeStdin": False, "arg0": None}))
        assert "result" in started, started
        ex.wait_notification("process/closed", lambda m: m["params"]["processId"] == "after-fuzz")
        chunks = [base64.b64decode(m["params"]["chunk"]) for m in ex.notifications("process/output")
                  if m["params"]["processId"] == "after-fuzz"]
        assert b"".join(chunks).strip() == b"alive"
        assert sorted(p.name for p in scratch.iterdir()) == ["a.txt"], "fuzzing changed the scratch folder"
        assert ex.close(timeout=30) == 0
    assert live_children() - before == set()
    summary = stats.summary()
    print(f"\nexec-server fuzz: {summary}; kinds {stats.kinds}")
    record_property("fuzz_inputs", stats.lines)
    record_property("fuzz_summary", summary)
    assert stats.requests > 0 and stats.invalid > 0


@pytest.mark.parametrize("line", [
    {"method": "no/such-notification"},
    {"id": 7, "result": {}},
    {"id": 7, "error": {"code": 1, "message": "client error"}},
    {"method": "initialized", "params": {}},
], ids=["notification", "response", "error-response", "initialized-before-initialize"])
def test_fatal_lines_close_the_exec_server_cleanly(tmp_path: Path, line: dict[str, Any]) -> None:
    """Spec §1.4: these end the connection; on stdio the process exits 0 and kills its children."""
    before = live_children()
    with AppServerProcess(tmp_path / "home", command=EXEC_ARGV, validate=False) as ex:
        if line.get("method") == "initialized":  # out of order: nothing may run first
            ex.send(line)
            assert ex.proc is not None and ex.proc.wait(timeout=30) == 0
            return
        assert "result" in ex.wait_response(ex.request("initialize", {"clientName": "fuzz"}))
        ex.notify("initialized", {})
        ex.wait_response(ex.request("process/start", {
            "processId": "sleeper", "argv": [sys.executable, "-c", "import time; time.sleep(60)"],
            "cwd": tmp_path.as_uri(), "env": {}, "tty": False, "pipeStdin": True, "arg0": None}))
        ex.send(line)
        assert ex.proc is not None and ex.proc.wait(timeout=30) == 0
    assert live_children() - before == set()


def test_json_values_strategy_is_json() -> None:
    """The strategies only produce JSON-serializable values (a broken strategy tests nothing)."""
    import json

    @settings(max_examples=50, database=None)
    @given(value=json_values())
    def check(value: Any) -> None:
        json.dumps(value)

    check()


def test_deep_nesting_is_a_parse_error_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzer: ``[[[…]]]`` past the JSON decoder's depth killed the executor."""
    with AppServerProcess(tmp_path / "home", command=EXEC_ARGV, validate=False) as ex:
        ex.send_raw(b"[" * 100_000 + b"]" * 100_000)
        error = ex.wait_for(lambda m: m.get("id") == -1)
        assert error["error"]["code"] == -32600 and "nesting too deep" in error["error"]["message"]
        assert "result" in ex.wait_response(ex.request("initialize", {"clientName": "after"}))
        assert ex.close(timeout=30) == 0
