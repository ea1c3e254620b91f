"""EnvironmentManager: lazy start, readiness as a non-blocking fact, failure states, reaping."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from rootstep.config.environments_toml import EnvironmentsConfig, EnvironmentSpec, parse_environments_toml
from rootstep.environments import EnvironmentManager, EnvironmentUnavailable, RemoteEnvironment
from rootstep.jsonrpc.framing import LineReader
from tests.exec_server.helpers import MARKER, ROOTSTEP_ARGV, alive, executor_argv, wait_gone

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def stdio_spec(env_id: str, argv: list[str], **kw: object) -> EnvironmentSpec:
    return EnvironmentSpec(id=env_id, program=argv[0], args=tuple(argv[1:]), **kw)  # type: ignore[arg-type]


def executors() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "exec-server" in " ".join(p.cmdline())]


async def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def test_stdio_environment_is_lazy_then_ready(which: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    config = EnvironmentsConfig(environments=(stdio_spec("executor-1", executor_argv(which), env=((MARKER, "m"),)),))
    async with EnvironmentManager(config) as manager:
        assert manager.ids == ["local", "executor-1"] and manager.is_ready("local")
        assert manager.status("executor-1").status == "pending" and not executors()
        assert manager.generation("executor-1") == 0
        assert manager.ready_environments(["local", "executor-1"]) == {"local"}  # starts it, does not wait
        await until(lambda: manager.is_ready("executor-1"))
        assert manager.ready_for_step("executor-1") and manager.generation("executor-1") == 1
        assert manager.status("executor-1").status == "ready"
        assert (await manager.probe_status("executor-1")).status == "ready"
        env = manager.get("executor-1")
        assert isinstance(env, RemoteEnvironment) and await env.read_file(str(tmp_path / "f")) == b"x"
        spawned = {p.pid for p in psutil.Process().children(recursive=True)}
    assert await wait_gone(spawned) == set()


async def test_first_use_starts_a_lazy_executor(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("y")
    async with EnvironmentManager(EnvironmentsConfig(environments=(stdio_spec("e", ROOTSTEP_ARGV),))) as manager:
        env = manager.get("e")
        assert env is not None and await env.read_file(str(tmp_path / "f")) == b"y"
        assert manager.is_ready("e")


@pytest.mark.parametrize(
    ("argv", "timeout", "needle"),
    [
        (["/no/such/exec-server"], 10.0, "failed to spawn exec-server: No such file or directory (os error 2)"),
        ([sys.executable, "-c", "import sys; sys.exit('no config for you')"], 10.0,
         "exit status 1; stderr: no config for you"),
        ([sys.executable, "-c", "import time; time.sleep(60)"], 0.5,
         "timed out waiting for exec-server initialize handshake after 0.5s"),
    ],
    ids=["missing", "exits-at-start", "silent"],
)
async def test_startup_failure_is_final_and_reported(argv: list[str], timeout: float, needle: str) -> None:
    config = EnvironmentsConfig(environments=(stdio_spec("bad", argv, initialize_timeout_sec=timeout),))
    async with EnvironmentManager(config) as manager:
        with pytest.raises(EnvironmentUnavailable) as err:
            await manager.wait_until_ready("bad")
        assert needle in str(err.value)
        status = manager.status("bad")
        assert status.status == "disconnected" and status.error is not None and needle in status.error
        assert manager.startup_finished("bad") and not manager.is_ready("bad")
        manager.ensure_started("bad")  # no respawn
        env = manager.get("bad")
        assert env is not None
        with pytest.raises(ConnectionError):
            await env.read_file("/etc/hostname")
        assert not alive({p.pid for p in psutil.Process().children(recursive=True)} - {os.getpid()})


async def test_a_dead_stdio_executor_stays_failed(which: str) -> None:
    events: list[tuple[str, str]] = []
    async with EnvironmentManager(EnvironmentsConfig(environments=(stdio_spec("e", executor_argv(which)),))) as manager:
        manager.subscribe(lambda env_id, event: events.append((env_id, event)))
        await manager.wait_until_ready("e")
        for p in executors():
            p.kill()
        await until(lambda: manager.status("e").status == "disconnected")
        assert manager.status("e").error == "exec-server transport disconnected"
        assert events == [("e", "connected"), ("e", "disconnected")]
        env = manager.get("e")
        assert env is not None
        with pytest.raises(ConnectionError):
            await env.read_file("/etc/hostname")
        manager.ensure_started("e")
        await anyio.sleep(0.3)
        assert executors() == [] and manager.status("e").status == "disconnected"  # never respawned


async def test_unknown_environment() -> None:
    async with EnvironmentManager() as manager:
        assert manager.status("nope").status == "unknown" and manager.get("nope") is None
        with pytest.raises(EnvironmentUnavailable):
            await manager.wait_until_ready("nope")


class WsServers:
    """rootstep websocket exec-servers started by a test (killed at the end)."""

    def __init__(self) -> None:
        self.procs: list = []  # type: ignore[type-arg]

    async def start(self, port: int = 0) -> str:
        proc = await anyio.open_process(
            [sys.executable, "-m", "rootstep", "exec-server", "--listen", f"ws://127.0.0.1:{port}"],
            start_new_session=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        with anyio.fail_after(20):
            return (await LineReader(proc.stdout).__anext__()).decode().strip()


@pytest.fixture
async def ws_servers() -> AsyncIterator[WsServers]:
    servers = WsServers()
    try:
        yield servers
    finally:
        for proc in servers.procs:
            if proc.returncode is None:
                proc.kill()
            with anyio.CancelScope(shield=True):
                await proc.wait()
                await proc.aclose()


async def _server_restarts_on_its_port(ws_servers: WsServers, manager: EnvironmentManager, url: str) -> None:
    """The first websocket server dies and a new one listens on the same port; returns once
    the environment is seen disconnected."""
    proc = ws_servers.procs[0]
    proc.kill()
    await proc.wait()
    await ws_servers.start(int(url.rsplit(":", 1)[1]))
    await until(lambda: manager.status("devbox").status == "disconnected")


async def test_websocket_environment_add_and_reconnect(ws_servers: WsServers) -> None:
    url = await ws_servers.start()
    toml = '[[environments]]\nid = "devbox"\nurl = "ws://127.0.0.1:9"\nconnect_timeout_sec = 0.2\n'
    config = parse_environments_toml(toml, "environments.toml", "/tmp")
    async with EnvironmentManager(config) as manager:
        await until(lambda: manager.startup_finished("devbox"))
        assert manager.status("devbox").status == "disconnected"  # nobody listens on :9
        manager.add_websocket("devbox", url)  # environment/add: replace with a live URL
        await until(lambda: manager.is_ready("devbox"))
        env = manager.get("devbox")
        assert isinstance(env, RemoteEnvironment)
        first = (await env.client()).session_id
        # The server goes away and comes back on the same port: the link tries to resume its
        # session there, the new server does not know it (-32600), the link fails for good
        # and the next use reconnects with a fresh session.
        await _server_restarts_on_its_port(ws_servers, manager, url)
        assert await env.read_file("/etc/hostname")
        assert (await env.client()).session_id != first and manager.is_ready("devbox")
        assert manager.generation("devbox") == 2  # first link, then the reconnect


async def test_a_use_while_the_dead_link_is_being_reaped_reconnects(
    ws_servers: WsServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is seen down (status "disconnected") while its owner still closes it: a use at
    that moment waits for the owner and dials again, instead of failing with the old error."""
    import rootstep.environments.manager as manager_module

    real = manager_module.open_websocket_link

    @asynccontextmanager
    async def slow_to_close(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with real(*args, **kwargs) as client:
            try:
                yield client
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.5)  # a loaded machine's slow teardown

    monkeypatch.setattr(manager_module, "open_websocket_link", slow_to_close)
    url = await ws_servers.start()
    config = parse_environments_toml(f'[[environments]]\nid = "devbox"\nurl = "{url}"\n', "environments.toml", "/tmp")
    async with EnvironmentManager(config) as manager:
        env = manager.get("devbox")
        assert isinstance(env, RemoteEnvironment)
        first = (await env.client()).session_id
        await _server_restarts_on_its_port(ws_servers, manager, url)
        assert await env.read_file("/etc/hostname")
        assert (await env.client()).session_id != first


async def test_from_home_reads_environments_toml(tmp_path: Path) -> None:
    (tmp_path / "environments.toml").write_text(
        f'default = "e"\n[[environments]]\nid = "e"\nprogram = "{sys.executable}"\n'
        'args = ["-m", "rootstep", "exec-server", "--listen", "stdio"]\n'
    )
    async with EnvironmentManager.from_home(tmp_path) as manager:
        assert manager.default_environment_ids() == ["e", "local"]
        assert await manager.wait_until_ready("e") is manager.get("e")
