"""The per-step runtime of a thread, driven in process with real MCP server processes.

Beyond the reference: a projection change restarts only what changed (a server whose resolved
config is unchanged keeps its process), and model-visible names never move, even when a later
root's tools would collide, nor across resume (the persisted map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from rootstep.environments.local import LocalEnvironment
from rootstep.extensions.selected_plugins.reuse import RuntimeDecision
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.extensions.thread_mcp import TOOL_NAMES_RECORD
from rootstep.mcp.transports.factory import DefaultTransports
from rootstep.protocol.capabilities import SelectedCapabilityRoot
from rootstep.tools import FunctionCall
from tests.fixtures.mcp_helpers import alive, live_children, read_pids
from tests.fixtures.thread_mcp import FakeThread, mcp_for_tests
from tests.selected_roots.helpers import write_plugin

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Sink:
    def __init__(self) -> None:
        self.items: list[Any] = []

    async def started(self, item: Any) -> None:
        pass

    async def completed(self, item: Any) -> None:
        self.items.append(item)


class World:
    """Environments that are all the local machine, with readiness the test switches."""

    def __init__(self) -> None:
        self.ready: set[str] = {"local"}
        self._envs: dict[str, LocalEnvironment] = {}

    def get(self, env_id: str) -> LocalEnvironment:
        return self._envs.setdefault(env_id, LocalEnvironment(env_id))

    # StepEnvironments: the thread selected every environment its roots name.
    def selected(self) -> list[str]:
        return list(self.selection)

    def start(self, env_ids: Any) -> None:
        pass

    async def capture(self, env_ids: Any) -> frozenset[str]:
        return frozenset(e for e in env_ids if e in self.ready)

    def provider(self, roots: list[SelectedCapabilityRoot], names: StableToolNames | None = None,
                 persisted: list[Any] | None = None) -> Any:
        """The thread's MCP (``async with``); names it gives are appended to ``persisted``."""
        self.selection = list(dict.fromkeys(r.environment_id for r in roots))
        thread = Recorder("thread-1", persisted)
        return mcp_for_tests(
            "thread-1", roots=roots, environments=self.get, step_environments=self, tool_names=names, thread=thread,
            transports=DefaultTransports(environments=self.get),
        )


class Recorder(FakeThread):
    """A thread whose tool-name records go to a list (the rollout of the test)."""

    def __init__(self, thread_id: str, names: list[Any] | None) -> None:
        super().__init__(thread_id)
        self._names = names

    def record(self, kind: str, payload: Any) -> None:
        if kind == TOOL_NAMES_RECORD and self._names is not None:
            self._names.append(payload["names"])


def names_of(tools: Any) -> set[tuple[str, str]]:
    return {(ns["name"], t["name"]) for ns in tools.model_tools() for t in ns["tools"]}


async def test_projection_change_restarts_only_the_new_roots_servers(tmp_path: Path) -> None:
    before = live_children()
    world = World()
    a = write_plugin(tmp_path / "a", pid_file=tmp_path / "a.pids", name="a", display="A", server="srv_a",
                     skill=False, env_vars=False)
    b = write_plugin(tmp_path / "b", pid_file=tmp_path / "b.pids", name="b", display="B", server="srv_b",
                     skill=False, env_vars=False)
    roots = [SelectedCapabilityRoot.create("a@1", "local", str(a)),
             SelectedCapabilityRoot.create("b@1", "env-b", str(b))]
    async with world.provider(roots) as provider:
        step = await provider.capture_step()
        assert ("mcp__srv_a", "echo") in names_of(step) and ("mcp__srv_b", "echo") not in names_of(step)
        await step.aclose()
        [pid_a] = read_pids(tmp_path / "a.pids")

        world.ready.add("env-b")
        held = await provider.capture_step()  # a step that keeps the snapshot with both roots
        assert {("mcp__srv_a", "echo"), ("mcp__srv_b", "echo")} <= names_of(held)
        assert provider.decisions[-1] is RuntimeDecision.REBUILD
        assert read_pids(tmp_path / "a.pids") == [pid_a] and alive(pid_a)  # kept its process
        [pid_b] = read_pids(tmp_path / "b.pids")
        assert provider.pool.starts == 2

        again = await provider.capture_step()
        assert provider.decisions[-1] is RuntimeDecision.REUSE and provider.pool.starts == 2
        await again.aclose()

        world.ready.discard("env-b")
        step = await provider.capture_step()
        assert ("mcp__srv_b", "echo") not in names_of(step) and provider.pool.starts == 2
        # The held step still runs B's tool on its snapshot; B stops once that step is done.
        call = FunctionCall("c1", "echo", "mcp__srv_b", '{"message": "still here"}')
        output = await held.execute(call, Sink(), thread_id="thread-1", turn_id="t")
        assert "ECHOING: still here" in str(output)
        assert alive(pid_b)
        await held.aclose()
        with anyio.fail_after(10):
            while alive(pid_b):
                await anyio.sleep(0.02)
        assert alive(pid_a)
        await step.aclose()
    with anyio.fail_after(10):
        while live_children() - before:
            await anyio.sleep(0.02)


async def test_tool_names_never_move_within_a_thread_or_across_resume(tmp_path: Path) -> None:
    world = World()
    # `srv-x` and `srv_x` sanitize to the same namespace: the reference suffixes both.
    a = write_plugin(tmp_path / "a", pid_file=tmp_path / "a.pids", name="a", server="srv-x", skill=False,
                     env_vars=False)
    b = write_plugin(tmp_path / "b", pid_file=tmp_path / "b.pids", name="b", server="srv_x", skill=False,
                     env_vars=False)
    roots = [SelectedCapabilityRoot.create("a@1", "local", str(a)),
             SelectedCapabilityRoot.create("b@1", "env-b", str(b))]
    persisted: list[Any] = []
    async with world.provider(roots, persisted=persisted) as provider:
        step = await provider.capture_step()
        assert ("mcp__srv_x", "echo") in names_of(step)
        await step.aclose()
        world.ready.add("env-b")
        step = await provider.capture_step()
        names = names_of(step)
        assert ("mcp__srv_x", "echo") in names  # A kept its name
        [b_name] = [n for n in names if n[0] != "mcp__srv_x" and n[1] == "echo"]
        assert b_name[0].startswith("mcp__srv_x_")
        info = step.catalog.route(*b_name)
        assert info is not None and info.server == "srv_x"
        await step.aclose()

    # Resume: a fresh provider with the persisted map; only B is ready now, and keeps its name.
    world.ready = {"env-b"}
    async with world.provider(roots, names=StableToolNames.from_json(persisted[-1])) as resumed:
        step = await resumed.capture_step()
        assert b_name in names_of(step) and ("mcp__srv_x", "echo") not in names_of(step)
        await step.aclose()
