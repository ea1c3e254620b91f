"""The per-thread metadata cache and the projection of ready roots, over real plugin folders.

Mirrors ``executor_plugin_mcp.rs`` (requirements keyed by the root id; package without servers;
discovery path equals the file path) and the cache rules of spec §5.2 / §11.11.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from rootstep.config.requirements import parse_requirements
from rootstep.environments.base import Environment
from rootstep.extensions.selected_plugins import (
    CapabilityDiscoveryCache,
    RuntimeDecision,
    SelectedCapabilityRoot,
    SelectedPluginPackage,
    SelectedPluginServer,
    SelectedPluginsState,
    build_projection,
    project_ready_roots,
    project_step,
)
from tests.plugins.fs_env import FsEnvironment
from tests.plugins.plugin_fixtures import bundle_for, write

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_plugin(
    root: Path, name: str, display: str | None = None, servers: dict[str, Any] | None = None, **extra: str
) -> Path:
    manifest: dict[str, Any] = {"name": name}
    if display:
        manifest["interface"] = {"displayName": display}
    files = {".codex-plugin/plugin.json": json.dumps(manifest)}
    if servers is not None:
        files[".mcp.json"] = json.dumps({"mcpServers": servers})
    files.update(extra)
    write(root, files)
    return root


def root_at(path: Path, id: str = "selected-root", env: str = "local") -> SelectedCapabilityRoot:
    return SelectedCapabilityRoot.create(id, env, str(path))


def lookup(*envs: FsEnvironment):  # type: ignore[no-untyped-def]
    table = {e.id: e for e in envs}
    return lambda env_id: table.get(env_id)


class CountingLookup:
    def __init__(self, *envs: FsEnvironment) -> None:
        self.table: dict[str, Environment] = {e.id: e for e in envs}  # type: ignore[misc]
        self.calls = 0

    def __call__(self, env_id: str) -> Environment | None:
        self.calls += 1
        return self.table.get(env_id)


async def test_requirements_apply_by_selected_root_id_not_manifest_name(tmp_path: Path) -> None:
    make_plugin(
        tmp_path,
        "different-manifest-name",
        "Selected Demo",
        {"allowed": {"command": "allowed-command"}, "mismatched": {"command": "wrong-command"},
         "unlisted": {"command": "unlisted-command"}},
    )
    requirements = parse_requirements(
        '[plugins."selected-root".mcp_servers.allowed.identity]\ncommand = "allowed-command"\n'
        '[plugins."selected-root".mcp_servers.mismatched.identity]\ncommand = "expected-command"\n'
    )
    state = SelectedPluginsState()
    ready = await state.metadata_for_roots([root_at(tmp_path)], lookup(FsEnvironment()))
    contributions = project_ready_roots(ready, requirements)
    servers = [(c.name, c.plugin_id, c.plugin_display_name, c.selection_order, c.config.enabled)
               for c in contributions if isinstance(c, SelectedPluginServer)]
    assert servers == [
        ("allowed", "selected-root", "Selected Demo", 0, True),
        ("mismatched", "selected-root", "Selected Demo", 0, False),
        ("unlisted", "selected-root", "Selected Demo", 0, False),
    ]
    # Disabled servers are still in the catalog (status list shows them) but disabled.
    projection = build_projection(contributions)
    assert {n: s.config.enabled for n, s in projection.catalog.servers.items()} == {
        "allowed": True, "mismatched": False, "unlisted": False}


async def test_package_is_contributed_without_servers_or_connectors(tmp_path: Path) -> None:
    make_plugin(tmp_path, "skill-only", "Skill Only",
                **{"skills/deploy/SKILL.md": "---\nname: deploy\ndescription: Deploy the project.\n---\n"})
    state = SelectedPluginsState()
    ready = await state.metadata_for_roots([root_at(tmp_path)], lookup(FsEnvironment()))
    assert project_ready_roots(ready) == (SelectedPluginPackage("selected-root", "Skill Only", ()),)
    assert build_projection(project_ready_roots(ready)).plugins_available
    assert ready[0][1] is not None and [s.name for s in ready[0][1].skills] == ["skill-only:deploy"]


async def test_selection_order_is_among_ready_roots_and_a_non_plugin_is_skipped(tmp_path: Path) -> None:
    a = make_plugin(tmp_path / "a", "a", servers={"zz": {"command": "z"}, "aa": {"command": "a"}})
    not_plugin = tmp_path / "plain"
    not_plugin.mkdir()
    b = make_plugin(tmp_path / "b", "b", servers={"bb": {"command": "b"}},
                    **{".app.json": json.dumps({"apps": {"c": {"id": "calendar"}}})})
    write(b, {".codex-plugin/plugin.json": json.dumps({"name": "b", "apps": "./.app.json"})})
    state = SelectedPluginsState()
    roots = [root_at(not_plugin, "plain"), root_at(a, "A"), root_at(b, "B")]
    ready = await state.metadata_for_roots(roots, lookup(FsEnvironment()))
    summary = [
        (c.plugin_id, getattr(c, "name", None), getattr(c, "selection_order", None)) for c in project_ready_roots(ready)
    ]
    assert summary == [("A", "aa", 1), ("A", "zz", 1), ("A", None, None), ("B", "bb", 2), ("B", None, None)]
    projection = build_projection(project_ready_roots(ready))
    assert projection.connector_plugin_names() == {"calendar": ("b",)}


async def test_cache_hits_never_look_at_availability(tmp_path: Path) -> None:
    make_plugin(tmp_path, "p", servers={"s": {"command": "x"}})
    state = SelectedPluginsState()
    env = FsEnvironment()
    counting = CountingLookup(env)
    root = root_at(tmp_path)
    first = await state.metadata_for_root(root, counting)
    reads = len(env.reads)
    counting.table.clear()  # the environment is gone now
    assert await state.metadata_for_root(root, counting) == first
    assert counting.calls == 1 and len(env.reads) == reads and state.resolutions == 1


async def test_resolution_errors_are_retried_at_the_next_step(tmp_path: Path) -> None:
    make_plugin(tmp_path, "p", servers={"s": {"command": "x"}})
    state = SelectedPluginsState()
    root = root_at(tmp_path, env="executor-1")
    assert await state.metadata_for_root(root, lookup()) is None  # unknown environment
    env = FsEnvironment("executor-1")
    env.fail_with = ConnectionError("executor not connected")
    assert await state.metadata_for_root(root, lookup(env)) is None  # IO failure
    env.fail_with = None
    package = await state.metadata_for_root(root, lookup(env))
    assert package is not None and [n for n, _ in package.servers] == ["s"]
    assert dict(package.servers)["s"].environment_id == "executor-1"


async def test_not_a_plugin_and_broken_declarations_are_cached(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    broken = make_plugin(tmp_path / "broken", "broken", **{".mcp.json": "{nope"})
    state = SelectedPluginsState()
    env = FsEnvironment()
    for _ in range(3):
        assert await state.metadata_for_root(root_at(plain, "plain"), lookup(env)) is None
        package = await state.metadata_for_root(root_at(broken, "broken"), lookup(env))
        assert package is not None and package.servers == ()
    assert state.resolutions == 2
    # Fixing the file does not change the thread's view: broken declarations are not retried.
    write(broken, {".mcp.json": json.dumps({"s": {"command": "x"}})})
    assert (await state.metadata_for_root(root_at(broken, "broken"), lookup(env))).servers == ()


async def test_cache_key_includes_the_location(tmp_path: Path) -> None:
    one = make_plugin(tmp_path / "one", "one", servers={"first": {"command": "1"}})
    two = make_plugin(tmp_path / "two", "two", servers={"second": {"command": "2"}})
    state = SelectedPluginsState()
    envs = lookup(FsEnvironment("local"), FsEnvironment("executor-1"))
    a = await state.metadata_for_root(root_at(one, "same-id"), envs)
    b = await state.metadata_for_root(root_at(two, "same-id"), envs)
    c = await state.metadata_for_root(root_at(one, "same-id", env="executor-1"), envs)
    assert [n for n, _ in a.servers] == ["first"] and [n for n, _ in b.servers] == ["second"]
    assert dict(c.servers)["first"].environment_id == "executor-1"
    assert state.resolutions == 3
    # The canonical path is the key: a file URI and a native path name the same root.
    assert root_at(one, "x") == SelectedCapabilityRoot.create("x", "local", "file://" + str(one))


async def test_concurrent_misses_agree_on_one_cached_value(tmp_path: Path) -> None:
    make_plugin(tmp_path, "p", servers={"s": {"command": "x"}})
    state = SelectedPluginsState()
    env = FsEnvironment()
    env.delay = 0.01
    root = root_at(tmp_path)
    results: list[Any] = []

    async def one() -> None:
        results.append(await state.metadata_for_root(root, lookup(env)))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(one)
    assert all(r is results[0] for r in results)  # the first insert won; everyone returns it
    assert (await state.metadata_for_root(root, lookup(env))) is results[0]


class BundleEnvironment(FsEnvironment):
    """A filesystem environment that also answers discoverV1 from the same files."""

    def __init__(self, env_id: str) -> None:
        super().__init__(env_id)
        self.discover_calls: list[list[tuple[str, str]]] = []

    async def discover_capability_roots(self, roots: list[tuple[str, str]]) -> list[dict[str, Any]]:
        from rootstep.plugins import PathUri

        self.discover_calls.append(roots)
        out = []
        for root_id, uri in roots:
            path = Path(PathUri.parse(uri).to_native())
            if not path.is_dir():
                out.append({"id": root_id, "path": uri, "plugin": None, "skills": [], "warnings": [],
                            "error": f"capability root {uri} is not a directory"})
            else:
                out.append(bundle_for(path, root_id))
        return out


async def test_discovery_path_projects_the_same_contributions(tmp_path: Path) -> None:
    write(
        tmp_path / "demo",
        {
            ".codex-plugin/plugin.json": json.dumps(
                {"name": "demo", "interface": {"displayName": "Demo"}, "mcpServers": "./servers.json"}),
            "servers.json": json.dumps(
                {"mcpServers": {"first": {"command": "first"}, "second": {"command": "second"}}}),
        },
    )
    make_plugin(tmp_path / "other", "other", servers={"third": {"url": "https://x/mcp"}})
    env1, env2 = BundleEnvironment("executor-1"), BundleEnvironment("executor-2")
    roots = [
        root_at(tmp_path / "demo", "demo", "executor-1"),
        root_at(tmp_path / "other", "other", "executor-2"),
        root_at(tmp_path / "missing", "missing", "executor-1"),
    ]
    existing = project_ready_roots(await SelectedPluginsState().metadata_for_roots(roots, lookup(env1, env2)))
    cache = CapabilityDiscoveryCache()
    high_level = project_ready_roots(await cache.metadata_for_roots(roots, lookup(env1, env2)))
    assert high_level == existing
    # one request per environment
    assert [len(c) for c in env1.discover_calls] == [2] and [len(c) for c in env2.discover_calls] == [1]
    # Successes and failures are memoized: a second step asks nothing.
    await cache.metadata_for_roots(roots, lookup(env1, env2))
    assert cache.requests == 2


async def test_the_reuse_decision_over_published_inputs(tmp_path: Path) -> None:
    from rootstep.extensions.selected_plugins import SelectedPluginsThread

    make_plugin(tmp_path / "a", "a", "A", servers={"srv": {"command": "x"}})
    make_plugin(tmp_path / "skills", "skills", "Skills",
                **{"skills/x/SKILL.md": "---\nname: x\ndescription: X.\n---\n"})
    env = FsEnvironment("executor-1")
    a = root_at(tmp_path / "a", "a", "executor-1")
    skill_only = root_at(tmp_path / "skills", "skills", "local")
    environments = lookup(env, FsEnvironment("local"))
    thread = SelectedPluginsThread([a, skill_only])

    step1 = await thread.preview([a], environments)
    assert thread.decide([a], step1) is RuntimeDecision.REBUILD and list(step1.catalog.servers) == ["srv"]
    thread.publish([a], step1)
    assert thread.decide([a], step1) is RuntimeDecision.REUSE
    # A skill-only root becoming ready flips plugins_available but keeps the manager.
    step3 = await thread.preview([a, skill_only], environments)
    assert thread.decide([a, skill_only], step3) is RuntimeDecision.KEEP_MANAGER
    thread.publish([a, skill_only], step3)
    # The executor going away drops its enabled server: rebuild.
    step4 = await thread.preview([skill_only], environments)
    assert thread.decide([skill_only], step4) is RuntimeDecision.REBUILD and step4.catalog.servers == {}
    assert (await project_step([], thread.cache, environments)).plugins_available is False
    assert thread.published.ready_roots == (a, skill_only)
