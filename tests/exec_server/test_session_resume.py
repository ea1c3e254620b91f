"""Websocket session resume: a dropped connection detaches the session, a new connection
re-attaches with ``initialize{resumeSessionId}`` and finds its processes and their output.

Driven through a real ``exec-server --listen ws://127.0.0.1:0`` process and the ``websockets``
client; the resume and error cases run against ours and the reference binary.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rootstep.jsonrpc.framing import LineReader
from tests.exec_server.helpers import alive, wait_gone
from tests.exec_server.test_websocket import ws_argv

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TTL_ENV = "ROOTSTEP_EXEC_SERVER_SESSION_TTL_S"


class WsRaw:
    """One websocket connection speaking raw JSON-RPC to the exec-server."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.notifications: list[dict[str, Any]] = []
        self._next_id = 0

    async def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return json.loads(await self.ws.recv())

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        self._next_id += 1
        req_id = self._next_id
        await self.ws.send(json.dumps({"id": req_id, "method": method, "params": params}))
        while True:
            msg = await self.recv()
            if "id" not in msg:
                self.notifications.append(msg)
                continue
            assert msg["id"] == req_id, msg
            return msg

    async def initialize(self, resume: str | None = None) -> dict[str, Any]:
        return await self.call("initialize", {"clientName": "resume-test", "resumeSessionId": resume})

    async def handshake(self, resume: str | None = None) -> str:
        reply = await self.initialize(resume)
        assert "result" in reply, reply
        await self.ws.send(json.dumps({"method": "initialized", "params": {}}))
        return reply["result"]["sessionId"]

    async def output_until(self, needle: bytes) -> bytes:
        """Collect this connection's process/output notifications until ``needle`` shows up."""
        import base64

        def seen() -> bytes:
            return b"".join(base64.b64decode(n["params"]["chunk"]) for n in self.notifications
                            if n["method"] == "process/output")

        while needle not in seen():
            msg = await self.recv()
            if "id" not in msg:
                self.notifications.append(msg)
        return seen()


class Executor:
    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.pid = pid

    def connect(self) -> Any:
        return connect(self.url, max_size=None)

    def children(self) -> set[int]:
        """The processes the executor spawned for clients: the first non-executor processes
        below it (the reference is a node wrapper around the native binary; ours has a reaper)."""
        out = set()
        for child in psutil.Process(self.pid).children(recursive=True):
            try:
                if ("exec-server" not in " ".join(child.cmdline())
                        and "exec-server" in " ".join(child.parent().cmdline())):
                    out.add(child.pid)
            except (psutil.NoSuchProcess, AttributeError):
                pass
        return out


async def start_executor(which: str, env: dict[str, str] | None = None) -> AsyncIterator[Executor]:
    process = await anyio.open_process(ws_argv(which), env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            url = (await LineReader(process.stdout).__anext__()).decode().strip()
        yield Executor(url, process.pid)
    finally:
        process.terminate()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


@pytest.fixture
async def executor(which: str) -> AsyncIterator[Executor]:
    async for ex in start_executor(which):
        yield ex


def start_params(tmp_path: Path, process_id: str, script: str, *, pipe_stdin: bool = False) -> dict[str, Any]:
    return {
        "processId": process_id,
        "argv": ["sh", "-c", script],
        "cwd": "file://" + str(tmp_path),
        "env": {},
        "tty": False,
        "pipeStdin": pipe_stdin,
    }


async def wait_for_file(path: Path, timeout: float = 15.0) -> None:
    """A correctness wait: the child signals progress by creating a file."""
    with anyio.fail_after(timeout):
        while not path.exists():
            await anyio.sleep(0.02)


async def test_resume_keeps_the_process_and_what_it_wrote_while_detached(executor: Executor, tmp_path: Path) -> None:
    import base64

    script = "echo one; while [ ! -e go ]; do sleep 0.02; done; echo two; touch wrote-two; exec cat"
    async with executor.connect() as ws:
        first = WsRaw(ws)
        session_id = await first.handshake()
        reply = await first.call("process/start", start_params(tmp_path, "p1", script, pipe_stdin=True))
        assert "result" in reply, reply
        await first.output_until(b"one")
        children = executor.children()
        assert children

    # Detached: the child keeps running and produces output nobody is listening to.
    (tmp_path / "go").touch()
    await wait_for_file(tmp_path / "wrote-two")
    assert alive(children) == children

    async with executor.connect() as ws:
        second = WsRaw(ws)
        assert await second.handshake(resume=session_id) == session_id
        read = await second.call("process/read", {"processId": "p1", "afterSeq": 1, "waitMs": 0})
        result = read["result"]
        assert b"".join(base64.b64decode(c["chunk"]) for c in result["chunks"]) == b"two\n"
        assert [c["seq"] for c in result["chunks"]] == [2]
        assert result["exited"] is False and result["nextSeq"] == 3
        # Live notifications now reach the new connection, from the same process.
        write = await second.call(
            "process/write", {"processId": "p1", "chunk": base64.b64encode(b"three\n").decode(), "writeId": "w1"}
        )
        assert write["result"]["status"] == "accepted"
        assert (await second.output_until(b"three")).endswith(b"three\n")
        assert executor.children() == children
        await second.call("process/terminate", {"processId": "p1"})
    assert await wait_gone(children) == set()


async def test_unknown_session_id_is_refused_and_the_connection_can_start_fresh(executor: Executor) -> None:
    async with executor.connect() as ws:
        raw = WsRaw(ws)
        reply = await raw.initialize(resume="no-such-session")
        assert reply["error"]["code"] == -32600
        assert reply["error"]["message"] == "unknown session id no-such-session"
        # A failed initialize may be retried on the same connection.
        session_id = await raw.handshake()
        assert session_id and session_id != "no-such-session"
        status = await raw.call("environment/status")
        assert status["result"]["status"] == "ready"


async def test_resuming_a_session_that_is_still_attached_is_refused(executor: Executor) -> None:
    async with executor.connect() as ws_a, executor.connect() as ws_b:
        a = WsRaw(ws_a)
        session_id = await a.handshake()
        b = WsRaw(ws_b)
        reply = await b.initialize(resume=session_id)
        assert reply["error"]["code"] == -32010
        assert reply["error"]["message"] == f"session {session_id} is already attached to another connection"
        # The owner is unaffected.
        assert (await a.call("environment/status"))["result"]["status"] == "ready"


async def test_a_detached_session_expires_its_processes_are_killed_and_it_cannot_be_resumed(tmp_path: Path) -> None:
    """rootstep only: the TTL is shortened through the environment (the reference's is 30 s)."""
    async for executor in start_executor("rootstep", {TTL_ENV: "1"}):
        async with executor.connect() as ws:
            raw = WsRaw(ws)
            session_id = await raw.handshake()
            await raw.call("process/start", start_params(tmp_path, "sleeper", "echo up; exec sleep 60"))
            await raw.output_until(b"up")
            children = executor.children()
            assert children
        assert await wait_gone(children) == set()
        async with executor.connect() as ws:
            reply = await WsRaw(ws).initialize(resume=session_id)
            assert reply["error"] == {"code": -32600, "message": f"unknown session id {session_id}"}
