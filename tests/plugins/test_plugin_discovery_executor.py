"""Discovery through a real executor: ``rootstep exec-server --listen stdio`` (and the reference
``codex exec-server`` when installed), reached via ``EnvironmentManager``.

Both ways in — per-file reads and one ``capabilityRoots/discoverV1`` batch — must give the same
package as reading the same folder in-process, except for the environment the servers are placed
in. No executor process may outlive the manager.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rootstep.config.environments_toml import EnvironmentsConfig, EnvironmentSpec
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.manager import EnvironmentManager
from rootstep.extensions.selected_plugins import (
    CapabilityDiscoveryCache,
    SelectedCapabilityRoot,
    SelectedPluginsState,
    project_ready_roots,
)
from rootstep.plugins import PathUri, discover_plugin, plugin_from_discovery
from tests.conftest import descendants
from tests.plugins.plugin_fixtures import FIXTURES, write

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def executor_config(program: str, args: tuple[str, ...]) -> EnvironmentsConfig:
    return EnvironmentsConfig(environments=(EnvironmentSpec(id="executor-1", program=program, args=args),))


async def check_executor(tmp_path: Path, config: EnvironmentsConfig) -> None:
    write(tmp_path / "demo", FIXTURES["default-file-and-apps"])
    write(tmp_path / "declared", FIXTURES["declared-path"])
    (tmp_path / "plain").mkdir()
    roots = [
        SelectedCapabilityRoot.create("executor-demo@1", "executor-1", str(tmp_path / "demo")),
        SelectedCapabilityRoot.create("declared", "executor-1", str(tmp_path / "declared")),
        SelectedCapabilityRoot.create("plain", "executor-1", str(tmp_path / "plain")),
    ]
    before = descendants()
    async with EnvironmentManager(config) as manager:
        env = manager.get("executor-1")
        assert env is not None
        from_files = await SelectedPluginsState().metadata_for_roots(roots, manager.get)
        from_batch = await CapabilityDiscoveryCache().metadata_for_roots(roots, manager.get)
        assert project_ready_roots(from_files) == project_ready_roots(from_batch)
        demo = from_files[0][1]
        assert demo is not None and from_files[2][1] is None  # a folder without manifest is no plugin
        assert dict(demo.servers)["executor_demo"].environment_id == "executor-1"
        assert dict(demo.servers)["executor_demo"].transport.cwd == str(tmp_path / "demo")
        assert demo.connector_ids == ("calendar",)
        assert [s.name for s in demo.skills] == ["executor-demo:deploy"]
        # Same files read in-process give the same package, placed in the other environment.
        local = await discover_plugin(LocalEnvironment(), "executor-demo@1", "executor-1",
                                      PathUri.from_native(str(tmp_path / "demo")))
        assert local == demo
        assert len(descendants() - before) >= 1  # the executor child really ran
    assert descendants() - before == set()


async def test_discovery_through_rootstep_exec_server(tmp_path: Path) -> None:
    await check_executor(tmp_path,
                         executor_config(sys.executable, ("-m", "rootstep", "exec-server", "--listen", "stdio")))


@pytest.mark.reference
async def test_discovery_through_reference_exec_server(tmp_path: Path, reference_codex: Path) -> None:
    await check_executor(tmp_path, executor_config(str(reference_codex), ("exec-server", "--listen", "stdio")))


async def test_local_environment_batch_equals_files_for_every_fixture(tmp_path: Path) -> None:
    env = LocalEnvironment()
    for name, files in sorted(FIXTURES.items()):
        write(tmp_path / name, files)
        uri = str(PathUri.from_native(str(tmp_path / name)))
        [entry] = await env.discover_capability_roots([("r", uri)])
        assert json.loads(json.dumps(entry)) == entry  # a wire dict
        from_batch = plugin_from_discovery("r", env.id, entry)
        from_files = await discover_plugin(env, "r", env.id, PathUri.from_native(str(tmp_path / name)))
        assert from_batch == from_files, name
