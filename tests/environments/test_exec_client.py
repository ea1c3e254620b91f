"""The exec-server client against a scripted peer: seq re-ordering, tolerance, fail-fast.

The real servers emit in seq order, so the out-of-order and extra-method cases are driven by a
peer that writes exactly the lines we choose (through real anyio memory streams).
"""

from __future__ import annotations

import base64
import json
import math

import anyio
import pytest

from rootstep.environments.exec_client import ExecServerClient
from rootstep.jsonrpc.errors import ConnectionClosed
from rootstep.protocol import exec_server as p

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_reorders_by_seq_tolerates_extras_and_fails_fast() -> None:
    to_client_send, to_client = anyio.create_memory_object_stream[bytes](math.inf)
    sent: list[dict] = []

    async def write_line(line: bytes) -> None:
        sent.append(json.loads(line))

    client = ExecServerClient(write_line, name="scripted")

    async def lines():  # type: ignore[no-untyped-def]
        async for line in to_client:
            yield line

    def push(obj: dict) -> None:
        to_client_send.send_nowait(json.dumps(obj).encode())

    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run, lines())
        start = p.ProcessStartParams(process_id="p", argv=["x"], cwd="file:///", env={}, tty=False)

        async def answer_start() -> None:
            while not sent:
                await anyio.sleep(0.001)
            req = sent[-1]
            assert req["method"] == "process/start" and req["params"]["processId"] == "p"
            # Output *before* the response, out of order, with unknown fields everywhere.
            push({"method": "process/output",
                  "params": {"processId": "p", "seq": 2, "stream": "stdout", "chunk": b64(b"two"), "future": 1}})
            push({"method": "process/output",
                  "params": {"processId": "p", "seq": 1, "stream": "stdout", "chunk": b64(b"one")}})
            push({"method": "some/newNotification", "params": {"x": 1}})
            push({"id": 99, "method": "server/asksSomething", "params": {}})
            push({"id": req["id"], "result": {"processId": "p", "sandboxType": "none", "extra": [1, 2]}})
            push({"method": "process/output",
                  "params": {"processId": "p", "seq": 1, "stream": "stdout", "chunk": b64(b"dup")}})
            push({"method": "process/closed", "params": {"processId": "p", "seq": 4}})
            push({"method": "process/exited", "params": {"processId": "p", "seq": 3, "exitCode": 0}})

        tg.start_soon(answer_start)
        session = await client.start_process(start)
        events = [e async for e in session.events]
        assert [(e.kind, e.seq, e.data) for e in events] == [
            ("output", 1, b"one"),
            ("output", 2, b"two"),
            ("exited", 3, b""),
            ("closed", 4, b""),
        ]
        assert session.exit_code == 0
        # An unknown server request got a -32601 answer rather than silence.
        assert any(m.get("id") == 99 and m["error"]["code"] == -32601 for m in sent)

        # A pending request and a live process both fail at once when the link ends.
        session2_task_result: list[BaseException] = []

        async def start_second() -> None:
            try:
                await client.request("environment/status")
            except ConnectionClosed as exc:
                session2_task_result.append(exc)

        tg.start_soon(start_second)
        await anyio.sleep(0.01)
        to_client_send.close()
        with anyio.fail_after(5):
            while not session2_task_result:
                await anyio.sleep(0.005)
        assert "disconnected" in str(session2_task_result[0])
        with pytest.raises(ConnectionClosed):
            await client.request("environment/status")
