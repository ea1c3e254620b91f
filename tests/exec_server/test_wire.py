"""Wire-level behaviour, byte for byte, against `rootstep exec-server` and the reference.

The handshake state machine, the fatal and non-fatal protocol violations, and the framing
rules of spec exec-server §1 — with the same assertions for both servers.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from tests.exec_server.helpers import RawExec, alive, executor_argv, raw_exec, wait_gone

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_requests_before_the_handshake_are_refused(which: str) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        r = await ex.call(1, "environment/info")
        assert r["error"]["code"] == -32600
        assert r["error"]["message"] == "client must call initialize before using environment info methods"
        r = await ex.call("s-2", "initialize", {"clientName": "t"})
        assert r["id"] == "s-2" and len(r["result"]["sessionId"]) == 36  # string ids are echoed
        r = await ex.call(3, "fs/readFile", {"path": "file:///etc/hostname"})
        assert r["error"] == {"code": -32600, "message": "client must send initialized before using filesystem methods"}
        await ex.send({"method": "initialized", "params": {}})
        r = await ex.call(4, "initialize", {"clientName": "t"})
        assert r["error"] == {"code": -32600, "message": "initialize may only be sent once per connection"}


async def test_parameterless_methods_accept_null_absent_and_empty(which: str) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        for i, params in enumerate((None, {}, "absent")):
            msg = {"id": 10 + i, "method": "environment/info"}
            if params != "absent":
                msg["params"] = params
            await ex.send(msg)
            r = await ex.response(10 + i)
            assert r["result"]["shell"]["name"]
        r = await ex.call(20, "environment/status", {})
        assert r["result"] == {"status": "ready"}


async def test_malformed_lines_are_answered_and_the_connection_continues(which: str) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        await ex.send(b"{not json\n")
        r = await ex.recv()
        assert r is not None and r["id"] == -1 and r["error"]["code"] == -32600
        assert r["error"]["message"].startswith("failed to parse JSON-RPC message from exec-server stdio")
        await ex.send(b'{"jsonrpc":"2.0","id":7,"method":"environment/status"}\r\n')  # jsonrpc + CRLF
        assert (await ex.response(7))["result"] == {"status": "ready"}
        await ex.send(b"\n   \n")  # blank lines are skipped
        r = await ex.call(8, "no/such/method", {})
        assert r["error"] == {"code": -32601, "message": "exec-server stub does not implement `no/such/method` yet"}


@pytest.mark.parametrize(
    "violation",
    [
        {"method": "surprise", "params": {}},
        {"id": 99, "result": {}},
        {"id": 98, "error": {"code": 1, "message": "x"}},
    ],
    ids=["notification", "response", "error-response"],
)
async def test_fatal_violations_close_the_connection(which: str, violation: dict) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        await ex.send(violation)
        await assert_connection_closed(ex)


async def test_initialized_before_initialize_is_fatal(which: str) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.send({"method": "initialized", "params": {}})
        await assert_connection_closed(ex)


async def assert_connection_closed(ex: RawExec) -> None:
    """Nothing is served any more (our server exits at once; 0.169 waits for stdin EOF)."""
    try:
        await ex.send({"id": 77, "method": "environment/status"})
        assert ex.process.stdin is not None
        await ex.process.stdin.aclose()
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    assert await ex.recv() is None
    assert await ex.wait_exit() == 0


@pytest.mark.timeout(120)
async def test_a_line_over_64_mib_closes_the_connection(which: str) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        head = b'{"id":5,"method":"fs/readFile","params":{"path":"file:///'
        payload = head + b"a" * (64 * 1024 * 1024 + 16 - len(head)) + b'"}}\n'
        try:
            await ex.send(payload)
        except (anyio.BrokenResourceError, OSError):
            pass  # it may hang up while we are still writing
        while (msg := await ex.recv(timeout=60)) is not None:
            assert msg.get("id") != 5, "an over-long line must not be served"
        assert await ex.wait_exit() == 0


async def test_stdin_eof_kills_running_processes_and_exits_zero(which: str, tmp_path: Path) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        r = await ex.call(
            2,
            "process/start",
            {"processId": "p", "argv": ["sh", "-c", "echo up; exec sleep 60"], "cwd": "file://" + str(tmp_path),
             "env": {}, "tty": False},
        )
        assert r["result"]["processId"] == "p"
        while not any(n["method"] == "process/output" for n in ex.notifications):
            msg = await ex.recv()
            assert msg is not None
            ex.notifications.append(msg)
        import psutil

        sleepers = {p.pid for p in psutil.Process(ex.process.pid).children(recursive=True)
                    if "exec-server" not in " ".join(p.cmdline())}
        assert sleepers
        assert ex.process.stdin is not None
        await ex.process.stdin.aclose()
        assert await ex.wait_exit() == 0
        assert await wait_gone(sleepers) == set()
        assert alive(sleepers) == set()


async def test_notifications_use_the_documented_shapes(which: str, tmp_path: Path) -> None:
    async with raw_exec(executor_argv(which)) as ex:
        await ex.handshake()
        await ex.call(2, "process/start", {"processId": "n", "argv": ["sh", "-c", "printf hi"],
                                           "cwd": "file://" + str(tmp_path), "env": {}, "tty": False})
        while not any(n["method"] == "process/closed" for n in ex.notifications):
            msg = await ex.recv()
            assert msg is not None
            ex.notifications.append(msg)
        shapes = [(n["method"], sorted(n["params"])) for n in ex.notifications]
        expected = [
            ("process/output", ["chunk", "processId", "seq", "stream"]),
            ("process/exited", ["exitCode", "processId", "sandboxDenied", "seq"]),
            ("process/closed", ["processId", "seq"]),
        ]
        seqs = [n["params"]["seq"] for n in ex.notifications]
        if which == "rootstep":  # ours are sent in seq order
            assert shapes == expected and seqs == [1, 2, 3]
        else:  # the reference may send `exited` before the output of a process that ends at once
            assert sorted(shapes) == sorted(expected) and sorted(seqs) == [1, 2, 3]
        output = next(n for n in ex.notifications if n["method"] == "process/output")
        assert json.loads(json.dumps(output))["params"]["chunk"] == "aGk="


@pytest.mark.parametrize(("listen", "message"), [
    ("tcp://127.0.0.1:1", "unsupported --listen URL `tcp://127.0.0.1:1`; expected `ws://IP:PORT` or `stdio`"),
    ("ws://127.0.0.1", "invalid websocket --listen URL `ws://127.0.0.1`; expected `ws://IP:PORT`"),
    ("stdio:///x", "unsupported --listen URL `stdio:///x`; expected `ws://IP:PORT` or `stdio`"),
])
def test_bad_listen_values_are_refused(listen: str, message: str) -> None:
    """codex 0.169's messages (its exit code is 1; rootstep's usage errors exit 2)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "rootstep", "exec-server", "--listen", listen],
                          capture_output=True, timeout=30)
    assert done.returncode == 2 and done.stdout == b"" and message.encode() in done.stderr
