"""MCP sessions (the official SDK client) over every environment kind.

* local: the host launcher (environment cleared to the pass-through list + literal env);
* an executor (ours and the reference): MCP lines over process/write and process/output;
* streamable HTTP through an executor's http/request.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psutil
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from rootstep.environments import LocalEnvironment, RemoteEnvironment, StdioLaunch
from rootstep.jsonrpc.framing import LineReader
from rootstep.mcp.transports.factory import stdio_transport
from tests.exec_server.helpers import ECHO_SERVER, MARKER, executor_argv, wait_gone

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
async def executor(which: str) -> AsyncIterator[RemoteEnvironment]:
    argv = executor_argv(which)
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:], env={MARKER: "executor-only"}) as env:
        yield env


async def call_echo(env: LocalEnvironment | RemoteEnvironment, launch: StdioLaunch, env_var: str) -> dict:
    async with stdio_transport(env, launch) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            assert "echo" in {t.name for t in tools.tools}
            result = await session.call_tool("echo", {"message": "hi", "env_var": env_var})
    assert result.structured_content is not None
    return result.structured_content


async def test_local_stdio_env_is_cleared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOTSTEP_HOST_ONLY", "leak")
    env = LocalEnvironment()
    launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path), env=(("LITERAL", "lit"),))
    assert (await call_echo(env, launch, "LITERAL"))["env"] == "lit"
    assert (await call_echo(env, launch, "ROOTSTEP_HOST_ONLY"))["env"] is None
    assert (await call_echo(env, launch, "HOME"))["env"] == os.environ.get("HOME")


async def test_local_stdio_server_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, sys, runpy\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"sys.argv = [{ECHO_SERVER!r}]\n"
        f"runpy.run_path({ECHO_SERVER!r}, run_name='__main__')\n"
    )
    env = LocalEnvironment()
    launch = StdioLaunch(command=sys.executable, args=(str(script),), cwd=str(tmp_path))
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    async with stdio_transport(env, launch) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            server = {p.pid for p in psutil.Process().children(recursive=True)} - before
            assert server
            for pid in server:
                os.kill(pid, signal.SIGTERM)  # ignored
            assert (await session.call_tool("echo", {"message": "still"})).content[0].text == "ECHOING: still"  # type: ignore[union-attr]
    assert await wait_gone(server) == set()


async def test_executor_stdio_server_sees_executor_env(executor: RemoteEnvironment, tmp_path: Path) -> None:
    launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path), env=(("LITERAL", "lit"),),
                         remote_env_vars=(MARKER,))
    assert await call_echo(executor, launch, MARKER) == {"echo": "ECHOING: hi", "env": "executor-only"}
    assert (await call_echo(executor, launch, "LITERAL"))["env"] == "lit"
    no_remote = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path))
    assert (await call_echo(executor, no_remote, MARKER))["env"] is None  # core policy: not passed


async def test_executor_mcp_server_crash_ends_the_session(executor: RemoteEnvironment, tmp_path: Path) -> None:
    launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path))
    async with stdio_transport(executor, launch) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            with anyio.fail_after(20), pytest.raises(MCPError, match="Connection closed"):
                await session.call_tool("crash", {"code": 3})
    # the executor keeps serving
    assert await executor.probe() is True


async def test_executor_dying_ends_the_mcp_session(which: str, tmp_path: Path) -> None:
    argv = executor_argv(which)
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:]) as env:
        launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path))
        async with stdio_transport(env, launch) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                children = psutil.Process().children(recursive=True)
                executors = [p for p in children if "exec-server" in " ".join(p.cmdline())]
                servers = {p.pid for p in children if ECHO_SERVER in " ".join(p.cmdline())}
                for p in executors:
                    p.kill()
                with anyio.fail_after(20), pytest.raises(MCPError, match="Connection closed"):
                    await session.call_tool("echo", {"message": "into the void"})
        assert await wait_gone(servers) == set()


async def test_streamable_http_mcp_through_an_executor(executor: RemoteEnvironment, tmp_path: Path) -> None:
    process = await anyio.open_process([sys.executable, ECHO_SERVER, "--http", "0"], start_new_session=True)
    try:
        assert process.stderr is not None
        port = 0
        with anyio.fail_after(20):
            async for line in LineReader(process.stderr):
                if line.startswith(b"LISTENING "):
                    port = int(line.split()[1])
                    break
        # The fixture prints LISTENING after bind() but before listen(): wait until it accepts.
        with anyio.fail_after(20):
            while True:
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    await anyio.sleep(0.02)
        url = f"http://127.0.0.1:{port}/mcp"
        async with executor.http_client() as http:
            async with streamable_http_client(url, http_client=http) as (read, write, *_):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    result = await session.call_tool("echo", {"message": "via executor http"})
        assert result.content[0].text == "ECHOING: via executor http"  # type: ignore[union-attr]
    finally:
        process.terminate()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


async def test_an_over_long_mcp_line_closes_the_transport(executor: RemoteEnvironment, tmp_path: Path) -> None:
    """A stdout line over 8 MiB from an executor MCP server ends that session, not the executor."""
    launch = StdioLaunch(command=sys.executable, args=(ECHO_SERVER,), cwd=str(tmp_path))
    async with stdio_transport(executor, launch) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            ok = await session.call_tool("big", {"bytes": 1024 * 1024})
            assert len(ok.content[0].text) == 1024 * 1024  # type: ignore[union-attr]
            with pytest.raises(Exception) as err:
                with anyio.fail_after(30):
                    await session.call_tool("big", {"bytes": 9 * 1024 * 1024})
            assert not isinstance(err.value, TimeoutError), "the transport must close, not hang"
    assert await executor.probe() is True
