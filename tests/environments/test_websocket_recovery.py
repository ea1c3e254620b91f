"""A websocket link that loses its connection resumes its exec-server session.

A real ``rootstep exec-server --listen ws://`` process sits behind a small loopback TCP proxy
the test can cut (and hold down); the client is the ordinary websocket link. Cutting the
proxy drops the TCP connection on both sides, like a network failure would. The same tests
run against the reference ``codex exec-server``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psutil
import pytest
from anyio.abc import SocketStream, TaskGroup
from mcp.client.session import ClientSession

from rootstep.environments import RemoteEnvironment, StdioLaunch
from rootstep.environments.links import open_websocket_link
from rootstep.jsonrpc.framing import LineReader
from rootstep.mcp.transports.factory import stdio_transport
from rootstep.protocol import exec_server as p
from tests.exec_server.helpers import ECHO_SERVER, MARKER, wait_gone
from tests.exec_server.test_websocket import ws_argv

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


class CuttableProxy:
    """Forwards loopback TCP connections to ``upstream``; ``cut`` drops every live one,
    ``hold`` makes new ones close at once until ``release``."""

    def __init__(self, tg: TaskGroup, upstream_port: int) -> None:
        self._tg = tg
        self._upstream = upstream_port
        self._live: set[SocketStream] = set()
        self.accepted = 0
        self.held = False
        self.port = 0

    async def start(self) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self._tg.start_soon(listener.serve, self._handle)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handle(self, down: SocketStream) -> None:
        self.accepted += 1
        if self.held:
            await down.aclose()
            return
        up = await anyio.connect_tcp("127.0.0.1", self._upstream)
        self._live |= {down, up}

        async def pipe(src: SocketStream, dst: SocketStream, tg: TaskGroup) -> None:
            try:
                async for data in src:
                    await dst.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass
            tg.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pipe, down, up, tg)
                tg.start_soon(pipe, up, down, tg)
        finally:
            self._live -= {down, up}
            with anyio.CancelScope(shield=True):
                await down.aclose()
                await up.aclose()

    async def cut(self, *, hold: bool = False) -> None:
        self.held = hold
        for stream in list(self._live):
            await stream.aclose()

    def release(self) -> None:
        self.held = False


@pytest.fixture
async def executor(which: str) -> AsyncIterator[tuple[int, CuttableProxy]]:
    """(executor pid, a proxy in front of it)."""
    process = await anyio.open_process(ws_argv(which), start_new_session=True)
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            url = (await LineReader(process.stdout).__anext__()).decode().strip()
        async with anyio.create_task_group() as tg:
            proxy = CuttableProxy(tg, int(url.rsplit(":", 1)[1]))
            await proxy.start()
            yield process.pid, proxy
            tg.cancel_scope.cancel()
    finally:
        process.terminate()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


def spawned(executor_pid: int) -> set[int]:
    """The executor's client processes: the first non-executor processes below it (the
    reference is a node wrapper around the native binary; ours has a reaper)."""
    out = set()
    for child in psutil.Process(executor_pid).children(recursive=True):
        try:
            if "exec-server" not in " ".join(child.cmdline()) and "exec-server" in " ".join(child.parent().cmdline()):
                out.add(child.pid)
        except (psutil.NoSuchProcess, AttributeError):
            pass
    return out


async def test_an_mcp_server_survives_a_dropped_connection(executor: tuple[int, CuttableProxy], tmp_path: Path) -> None:
    executor_pid, proxy = executor
    async with RemoteEnvironment.connect_websocket("ws", proxy.url) as env:
        client = await env.client()
        session_id = client.session_id
        launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path), remote_env_vars=(MARKER,))
        async with stdio_transport(env, launch) as (read, write):
            async with ClientSession(read, write) as mcp:
                await mcp.initialize()
                before = await mcp.call_tool("echo", {"message": "before"})
                assert before.structured_content is not None and before.structured_content["echo"] == "ECHOING: before"
                servers = spawned(executor_pid)
                assert len(servers) == 1

                await proxy.cut()
                after = await mcp.call_tool("echo", {"message": "after"})

                assert after.structured_content is not None and after.structured_content["echo"] == "ECHOING: after"
                assert spawned(executor_pid) == servers  # the same server process answered
                assert proxy.accepted >= 2 and client.connection_losses == 1
                assert (await env.client()) is client and client.session_id == session_id
        assert await wait_gone(servers) == set()


async def test_output_produced_while_disconnected_is_replayed_in_order(
    executor: tuple[int, CuttableProxy], tmp_path: Path
) -> None:
    executor_pid, proxy = executor
    script = "echo one; while [ ! -e go ]; do sleep 0.02; done; echo two; echo three >&2; touch wrote; exec cat"
    async with open_websocket_link(proxy.url, name="ws") as client:
        params = p.ProcessStartParams(
            process_id="replay", argv=["sh", "-c", script], cwd=p.path_to_uri(str(tmp_path)), env={}, tty=False,
            pipe_stdin=True,
        )
        session = await client.start_process(params)
        first = await session.events.receive()
        assert (first.kind, first.seq, first.data) == ("output", 1, b"one\n")

        await proxy.cut(hold=True)  # down, and staying down while the child writes
        (tmp_path / "go").touch()
        with anyio.fail_after(15):
            while not (tmp_path / "wrote").exists():
                await anyio.sleep(0.02)
        proxy.release()

        assert await session.write(b"four\n") == "accepted"  # waits for the resume, then goes through
        events = []
        while b"four" not in b"".join(e.data for e in events):
            events.append(await session.events.receive())
        # Every missed event exactly once, in seq order (stdout and stderr race each other).
        assert [e.seq for e in events] == [2, 3, 4] and {e.kind for e in events} == {"output"}
        assert b"".join(e.data for e in events if e.stream == "stdout") == b"two\nfour\n"
        assert b"".join(e.data for e in events if e.stream == "stderr") == b"three\n"
        assert client.connection_losses == 1 and not client.closed
        assert await session.terminate()
        kinds = [(await session.events.receive()).kind for _ in range(2)]
        assert kinds == ["exited", "closed"]


async def test_recovery_that_cannot_succeed_fails_the_link_and_its_processes(
    executor: tuple[int, CuttableProxy], tmp_path: Path
) -> None:
    executor_pid, proxy = executor
    async with open_websocket_link(proxy.url, name="ws", recovery_timeout=1.0) as client:
        params = p.ProcessStartParams(
            process_id="doomed", argv=["sh", "-c", "echo up; exec sleep 60"], cwd=p.path_to_uri(str(tmp_path)),
            env={}, tty=False,
        )
        session = await client.start_process(params)
        assert (await session.events.receive()).data == b"up\n"
        await proxy.cut(hold=True)  # never comes back
        failed = await session.events.receive()
        assert failed.kind == "failed" and "failed to resume exec-server session" in (failed.error or "")
        assert client.closed and "failed to resume exec-server session" in (client.failure or "")
        with pytest.raises(ConnectionError):
            await RemoteEnvironment("ws", _fixed(client)).read_file(str(tmp_path))


def _fixed(client):  # type: ignore[no-untyped-def]
    from rootstep.environments.remote import _fixed as fixed

    return fixed(client)
