"""AGENTS.md discovery through an executor: the same files as on this machine, asked in three
batches of requests in flight together (markers, candidates, reads), however deep the cwd is —
each round trip to a remote executor is paid three times per turn, not once per folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from rootstep.agent_tools.project_docs import DocsSettings, git_root_and_docs
from rootstep.config.environments_toml import EnvironmentsConfig, EnvironmentSpec
from rootstep.environments import EnvironmentManager
from rootstep.environments.local import LocalEnvironment
from tests.exec_server.helpers import ROOTSTEP_ARGV


class CountingEnvironment:
    """A real environment, with its filesystem requests counted in waves (a wave starts when a
    request is sent while none is in flight)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.in_flight = 0
        self.waves = 0
        self.requests = 0

    async def _count(self, call: Any) -> Any:
        if self.in_flight == 0:
            self.waves += 1
        self.in_flight += 1
        self.requests += 1
        try:
            return await call
        finally:
            self.in_flight -= 1

    async def get_metadata(self, path: str) -> Any:
        return await self._count(self.env.get_metadata(path))

    async def read_file(self, path: str) -> bytes:
        result: bytes = await self._count(self.env.read_file(path))
        return result


def test_an_executor_finds_what_this_machine_finds_in_three_waves(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("root\n")
    deep = repo / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (repo / "a" / "AGENTS.override.md").write_text("override\n")
    (repo / "a" / "AGENTS.md").write_text("shadowed\n")
    (deep / "AGENTS.md").write_text("deepest\n")
    (tmp_path / "AGENTS.md").write_text("above the root\n")
    cwd = str(deep)
    spec = EnvironmentSpec(id="exec", program=ROOTSTEP_ARGV[0], args=tuple(ROOTSTEP_ARGV[1:]))
    config = EnvironmentsConfig(environments=(spec,))

    async def run() -> tuple[Any, Any, CountingEnvironment]:
        local = await git_root_and_docs(LocalEnvironment(), "local", cwd, DocsSettings(), [DocsSettings().max_bytes])
        async with EnvironmentManager(config) as manager:
            executor = CountingEnvironment(await manager.wait_until_ready("exec"))
            remote = await git_root_and_docs(executor, "local", cwd, DocsSettings(), [DocsSettings().max_bytes])
        return local, remote, executor

    local, remote, executor = anyio.run(run)
    root, docs = remote
    assert (root, [d.contents for d in docs]) == (str(repo), ["root\n", "override\n", "deepest\n"])
    assert remote == local
    assert executor.waves == 3  # was one request after another: 22 round trips for this cwd
    assert executor.requests > 20
