"""An executor answers file requests before it loads process handling (and the sandbox): its
handlers import without them, and they load once the first request after initialize is
answered, or at the first process request."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

from tests.exec_server.helpers import ROOTSTEP_ARGV

PROCESS_SIDE = ("rootstep.exec_server.processes", "rootstep.sandbox.bwrap", "rootstep.sandbox.policy")


def test_the_handlers_load_without_process_handling() -> None:
    code = (
        "import json, sys, rootstep.exec_server.connection, rootstep.exec_server.reaper; "
        f"print(json.dumps([m for m in {PROCESS_SIDE!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_a_process_request_first_still_runs_the_process() -> None:
    """No file request before it: the process table and its module are made on demand."""
    requests = [
        {"id": 1, "method": "initialize", "params": {"clientName": "t"}},
        {"method": "initialized"},
        {"id": 2, "method": "process/start", "params": {
            "processId": "p1", "argv": ["/bin/echo", "lean"], "cwd": "file:///tmp", "env": {}, "tty": False,
            "arg0": None,
        }},
        {"id": 3, "method": "process/read", "params": {"processId": "p1", "afterSeq": None, "maxBytes": None,
                                                       "waitMs": 2000}},
    ]
    proc = subprocess.Popen(ROOTSTEP_ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests).encode())
        proc.stdin.flush()
        answers: dict[int, dict] = {}
        while 3 not in answers:
            message = json.loads(proc.stdout.readline())
            if "id" in message:
                answers[message["id"]] = message
        assert "result" in answers[2], answers[2]
        read = answers[3]["result"]
        output = b"".join(base64.b64decode(chunk["chunk"]) for chunk in read["chunks"])
        assert output == b"lean\n", read
    finally:
        proc.kill()
        proc.wait()
