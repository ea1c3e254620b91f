"""Hostile bytes on the wire (issue 16, items 5 and 11).

A lone surrogate (``"\\ud800"``) used to be stored (thread name, turn text) and then make every
``thread/list`` / ``thread/read`` drop the client, or kill the stdio exec-server when it sat in
a request id or method. codex 0.169 (checked against the binaries) refuses such a line at parse
time: its exec-server answers ``-32600 failed to parse JSON-RPC message from exec-server stdio:
...`` with id ``-1``, its app-server drops the line (rootstep answers ``-32700``, as for any
unparseable line). A surrogate that still reaches a response (an old rollout, a model, a file
name that is not UTF-8) is answered ``-32603`` and the connection goes on.

The first stdio line before ``initialize`` was accumulated without limit (100 MiB cost 124 s of
CPU): it is capped like every later line.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import reference_codex_path
from tests.exec_server.helpers import executor_argv, raw_exec
from tests.fixtures.app_server import AppServerProcess, rootstep_command
from tests.fixtures.mock_model import MockModel, assistant_text
from tests.security.conftest import CAPPED_EXEC_SERVER, capped_rootstep, memory_capped


@pytest.fixture(params=["rootstep", "reference"])
def executor(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "reference":
        if reference_codex_path() is None:
            request.getfixturevalue("reference_codex")
        return executor_argv("reference")
    return list(CAPPED_EXEC_SERVER)


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_exec_server_refuses_lone_surrogates_and_keeps_serving(executor: list[str]) -> None:
    async with raw_exec(executor) as ex:
        await ex.handshake()
        for raw in (b'{"id":"a\\ud800","method":"environment/status"}',
                    b'{"id":3,"method":"environment/status\\udc00"}',
                    b'{"id":5,"method":"fs/readFile","params":{"path":"file:///tmp/\\ud800"}}'):
            await ex.send(raw + b"\n")
            r = await ex.recv()
            assert r is not None and r["id"] == -1 and r["error"]["code"] == -32600
            assert r["error"]["message"].startswith("failed to parse JSON-RPC message from exec-server stdio: ")
        # A valid surrogate pair is a character like any other.
        await ex.send(b'{"id":6,"method":"environment/status\\ud83d\\ude00"}\n')
        r = await ex.response(6)
        assert r["error"] == {"code": -32601,
                              "message": "exec-server stub does not implement `environment/status\U0001f600` yet"}
        assert (await ex.call(7, "environment/status"))["result"] == {"status": "ready"}


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_exec_server_answers_a_response_it_cannot_serialize(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("x")
    try:
        (tmp_path / os.fsdecode(b"not-utf8-\xff")).write_text("x")  # a name that is not UTF-8
    except OSError:
        pytest.skip("this filesystem refuses names that are not UTF-8")
    async with raw_exec(CAPPED_EXEC_SERVER) as ex:
        await ex.handshake()
        r = await ex.call(1, "fs/readDirectory", {"path": f"file://{tmp_path}"})
        assert r["error"]["code"] == -32603 and r["error"]["message"].startswith("failed to serialize the response")
        assert (await ex.call(2, "environment/status"))["result"] == {"status": "ready"}


def test_app_server_refuses_lone_surrogates_and_keeps_serving(codex_home: Path, model: MockModel) -> None:
    with AppServerProcess(codex_home, command=capped_rootstep()) as app:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]
        # json.dumps writes a lone surrogate as the escape ``\ud800`` (ASCII output), as a hostile client sends it.
        app.send_raw(json.dumps({"id": "n1", "method": "thread/name/set",
                                 "params": {"threadId": thread["id"], "name": "a\ud800b"}}))
        app.send_raw(json.dumps({"id": "t1", "method": "turn/start",
                                 "params": {"threadId": thread["id"], "input": [{"type": "text", "text": "\udfff"}]}}))
        for _ in range(2):
            error = app.wait_for(lambda m: m.get("id") is None and "error" in m)["error"]
            assert error == {"code": -32700, "message": "Parse error: lone surrogate in hex escape"}
        assert app.call("thread/list", {})["data"][0]["name"] is None
        assert app.call("thread/read", {"threadId": thread["id"], "includeTurns": True})["thread"]["turns"] == []
        assert app.close() == 0


def test_a_surrogate_that_reaches_a_response_is_answered_and_the_connection_lives(
    codex_home: Path, model: MockModel
) -> None:
    # An old rollout holding a lone surrogate (written before this check existed).
    thread_id = str(uuid.uuid4())
    folder = codex_home / "sessions" / "2026" / "01" / "02"
    folder.mkdir(parents=True)
    meta = {"id": thread_id, "created_at": 1767312000, "cwd": str(codex_home), "model": "mock-model"}
    lines = [{"timestamp": "2026-01-02T00:00:00.000Z", "type": "session_meta", "payload": meta},
             {"timestamp": "2026-01-02T00:00:01.000Z", "type": "thread_name", "payload": {"name": "bad \ud800"}}]
    (folder / f"rollout-2026-01-02T00-00-00-{thread_id}.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines))  # ensure_ascii: the file itself is valid
    # A model whose text holds one too.
    model.queue(assistant_text("half \udc80 a pair", deltas=["half ", "\udc80 a pair"]))
    with AppServerProcess(codex_home, command=capped_rootstep()) as app:
        app.initialize()
        error = app.call_error("thread/list", {})
        assert error.code == -32603 and error.message.startswith("failed to serialize the response")
        error = app.call_error("thread/read", {"threadId": thread_id})
        assert error.code == -32603
        thread = app.call("thread/start", {})["thread"]
        turn = app.run_turn(thread["id"], "hello")
        assert turn["status"] == "completed"
        assert app.call("thread/loaded/list", {})["data"]
        assert app.close() == 0


@pytest.mark.timeout(120)
def test_the_first_line_is_capped_like_every_other(codex_home: Path) -> None:
    """A 700 MiB first line, under a 512 MiB memory ceiling: it is dropped with ``-32600`` (like
    any later line over 64 MiB) without ever being held whole, and ``initialize`` on the next
    line works. (It used to be accumulated by ``buffer += chunk``: quadratic, then unbounded.)"""
    with AppServerProcess(codex_home, command=memory_capped(rootstep_command(), 512 * 1024 * 1024)) as app:
        assert app.proc is not None and app.proc.stdin is not None
        chunk = b"x" * (1 << 20)
        for _ in range(700):
            app.proc.stdin.write(chunk)
        app.proc.stdin.write(b"\n")
        app.proc.stdin.flush()
        error = app.wait_for(lambda m: "error" in m, timeout=60)["error"]
        assert error["code"] == -32600 and "exceeds the limit" in error["message"]
        app.initialize()
        assert app.call("thread/start", {})["thread"]["id"]
        assert app.close() == 0
