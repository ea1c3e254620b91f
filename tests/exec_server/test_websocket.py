"""`--listen ws://IP:PORT`: bound URL on stdout, /readyz, Origin refusal, a full client session.

Run against our exec-server and the reference with the same assertions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client.session import ClientSession

from rootstep.environments import RemoteEnvironment, StdioLaunch
from rootstep.jsonrpc.framing import LineReader
from rootstep.mcp.transports.factory import stdio_transport
from tests.conftest import reference_codex_path
from tests.exec_server.helpers import ECHO_SERVER, MARKER

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def ws_argv(which: str) -> list[str]:
    if which == "rootstep":
        return [sys.executable, "-m", "rootstep", "exec-server", "--listen", "ws://127.0.0.1:0"]
    return [str(reference_codex_path()), "exec-server", "--listen", "ws://127.0.0.1:0"]


@pytest.fixture
async def ws_url(which: str) -> AsyncIterator[str]:
    process = await anyio.open_process(ws_argv(which), env={**os.environ, MARKER: "ws-executor"},
                                       start_new_session=True)
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            line = await LineReader(process.stdout).__anext__()
        yield line.decode().strip()
    finally:
        process.terminate()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


async def test_prints_url_serves_readyz_and_refuses_origin(ws_url: str) -> None:
    assert ws_url.startswith("ws://127.0.0.1:") and int(ws_url.rsplit(":", 1)[1]) > 0
    http_url = ws_url.replace("ws://", "http://")
    async with httpx2.AsyncClient() as http:
        assert (await http.get(http_url + "/readyz")).status_code == 200
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as err:
        async with connect(ws_url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert err.value.response.status_code == 403


async def test_full_session_over_websocket(ws_url: str, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("over ws")
    async with RemoteEnvironment.connect_websocket("ws", ws_url) as env:
        assert await env.read_file(str(tmp_path / "f.txt")) == b"over ws"
        launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path), remote_env_vars=(MARKER,))
        async with stdio_transport(env, launch) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("echo", {"message": "ws", "env_var": MARKER})
        assert result.structured_content == {"echo": "ECHOING: ws", "env": "ws-executor"}


async def test_websocket_disconnect_kills_the_sessions_processes(tmp_path: Path) -> None:
    """rootstep: a dropped websocket detaches its session; nobody resumes it, so once the
    detached-session TTL (shortened here) runs out its processes are killed."""
    import psutil

    from rootstep.protocol import exec_server as p
    from tests.exec_server.helpers import wait_gone

    env = {**os.environ, "ROOTSTEP_EXEC_SERVER_SESSION_TTL_S": "1"}
    process = await anyio.open_process(ws_argv("rootstep"), env=env, start_new_session=True)
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            url = (await LineReader(process.stdout).__anext__()).decode().strip()
        async with RemoteEnvironment.connect_websocket("ws", url) as env:
            client = await env.client()
            params = p.ProcessStartParams(process_id="bg", argv=["sh", "-c", "echo up; exec sleep 60"],
                                          cwd=p.path_to_uri(str(tmp_path)), env={}, tty=False)
            session = await client.start_process(params)
            async for event in session.events:
                if b"up" in event.data:
                    break
            children = {c.pid for c in psutil.Process(process.pid).children(recursive=True)
                        if "exec-server" not in " ".join(c.cmdline())}
            assert children
        assert await wait_gone(children) == set()
    finally:
        process.terminate()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()
