"""Plugin discovery through an environment's filesystem, and from a discoverV1 bundle.

Mirrors the reference provider tests (declared path read only through the environment; inline
object reads nothing; missing default is empty; malformed files warn and yield no servers) and
``high_level_discovery_matches_the_existing_plugin_provider``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from rootstep.plugins import (
    PathUri,
    PluginResolutionError,
    discover_plugin,
    plugin_from_discovery,
)
from tests.plugins.fs_env import FsEnvironment
from tests.plugins.plugin_fixtures import FIXTURES, MANIFEST, bundle_for, write

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def discover(env: FsEnvironment, root: Path, root_id: str = "selected-root", env_id: str | None = None) -> Any:
    return discover_plugin(env, root_id, env_id or env.id, PathUri.from_native(str(root)))




async def test_declared_config_is_read_only_through_the_environment(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            MANIFEST: json.dumps({"name": "demo-plugin", "mcpServers": "./config/mcp.json"}),
            "config/mcp.json": json.dumps(
                {"mcpServers": {"demo": {"command": "demo-mcp", "environment_id": "local"}, "hosted": {"url": "https://example.com/mcp"}}}
            ),
            ".mcp.json": json.dumps({"ignored": {"command": "never"}}),
        },
    )
    env = FsEnvironment("executor-test")
    package = await discover(env, tmp_path)
    assert [name for name, _ in package.servers] == ["demo", "hosted"]
    demo = dict(package.servers)["demo"]
    assert demo.environment_id == "executor-test"
    assert demo.transport.cwd == str(tmp_path)
    assert dict(package.servers)["hosted"].environment_id == "executor-test"
    assert str(tmp_path / "config/mcp.json") in env.reads
    assert str(tmp_path / ".mcp.json") not in env.reads


async def test_inline_object_needs_no_config_read(tmp_path: Path) -> None:
    write(tmp_path, {".claude-plugin/plugin.json": json.dumps(
        {"name": "p", "mcpServers": {"counter": {"command": "counter-mcp"}}})})
    env = FsEnvironment("executor-test")
    package = await discover(env, tmp_path)
    assert [name for name, _ in package.servers] == ["counter"]
    assert env.reads == [str(tmp_path / ".claude-plugin/plugin.json")]  # only the manifest
    assert package.manifest_path == PathUri.from_native(str(tmp_path / ".claude-plugin/plugin.json"))


async def test_missing_default_config_is_empty(tmp_path: Path) -> None:
    write(tmp_path, {MANIFEST: "{}"})
    env = FsEnvironment()
    package = await discover(env, tmp_path)
    assert package.servers == ()
    assert package.warnings == ()
    assert str(tmp_path / ".mcp.json") in env.probes  # looked for (a missing file is not read)
    assert package.name == tmp_path.name  # empty name falls back to the root's basename


async def test_malformed_declared_config_warns_with_its_path_and_yields_no_servers(tmp_path: Path) -> None:
    write(tmp_path, {MANIFEST: json.dumps({"mcpServers": "./mcp.json"}), "mcp.json": "{not-json"})
    package = await discover(FsEnvironment(), tmp_path)
    assert package.servers == ()
    assert any("failed to parse MCP config" in w and "mcp.json" in w for w in package.warnings)


async def test_malformed_inline_config_reports_the_manifest_path(tmp_path: Path) -> None:
    # An inline object that is not a server map: the bare-map rule makes each value a server,
    # and a non-object server is a per-server error.
    write(tmp_path, {MANIFEST: json.dumps({"mcpServers": {"bad": 3}})})
    package = await discover(FsEnvironment(), tmp_path)
    assert package.servers == ()
    assert any("`bad`" in w for w in package.warnings)


async def test_missing_declared_config_is_a_warning_not_an_error(tmp_path: Path) -> None:
    write(tmp_path, {MANIFEST: json.dumps({"mcpServers": "./nope.json", "apps": "./nope.app.json"})})
    package = await discover(FsEnvironment(), tmp_path)
    assert package.servers == () and package.connector_ids == ()
    assert any("failed to read MCP config" in w for w in package.warnings)
    assert any("failed to read app config" in w for w in package.warnings)


@pytest.mark.parametrize("bad", ["mcp.json", "./", "./../x.json", "/etc/x.json", "./a/../../x.json"])
async def test_invalid_declared_path_falls_back_to_dot_mcp_json(tmp_path: Path, bad: str) -> None:
    write(tmp_path, {MANIFEST: json.dumps({"mcpServers": bad}),
                     ".mcp.json": json.dumps({"fallback": {"command": "f"}})})
    package = await discover(FsEnvironment(), tmp_path)
    assert [name for name, _ in package.servers] == ["fallback"]
    assert package.manifest.warnings  # the refused path is reported


async def test_manifest_lookup_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".cursor-plugin/plugin.json": json.dumps({"name": "cursor"}),
            ".claude-plugin/plugin.json": json.dumps({"name": "claude"}),
        },
    )
    assert (await discover(FsEnvironment(), tmp_path)).name == "claude"
    write(tmp_path, {MANIFEST: json.dumps({"name": "codex"})})
    assert (await discover(FsEnvironment(), tmp_path)).name == "codex"


async def test_root_without_manifest_is_not_a_plugin(tmp_path: Path) -> None:
    write(tmp_path, {".mcp.json": json.dumps({"s": {"command": "x"}})})
    assert await discover(FsEnvironment(), tmp_path) is None


async def test_resolution_errors_raise(tmp_path: Path) -> None:
    with pytest.raises(PluginResolutionError, match="No such file"):
        await discover(FsEnvironment(), tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PluginResolutionError, match="is not a directory"):
        await discover(FsEnvironment(), tmp_path / "file")
    write(tmp_path, {MANIFEST: "{broken"})
    with pytest.raises(PluginResolutionError, match="failed to parse plugin manifest"):
        await discover(FsEnvironment(), tmp_path)
    write(tmp_path, {MANIFEST: json.dumps({"name": 5})})
    with pytest.raises(PluginResolutionError, match="failed to parse plugin manifest"):
        await discover(FsEnvironment(), tmp_path)
    env = FsEnvironment()
    env.fail_with = ConnectionError("executor went away")
    with pytest.raises(PluginResolutionError, match="executor went away"):
        await discover(env, tmp_path)


async def test_display_name_connectors_and_skills(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            MANIFEST: json.dumps(
                {"name": "executor-demo", "interface": {"displayName": "  Executor Demo  "}, "apps": "./.app.json"}
            ),
            ".app.json": json.dumps({"apps": {"calendar": {"id": "calendar"}, "drive": {"id": "connector_drive"}}}),
            "skills/deploy/SKILL.md": "---\nname: deploy\ndescription: Deploy the project.\n---\nRun make deploy.\n",
            "skills/broken/SKILL.md": "no frontmatter",
            "skills/aaa/SKILL.md": "---\ndescription: Uses the dir name.\n---\n",
            "skills/notes.txt": "not a skill",
        },
    )
    package = await discover(FsEnvironment("executor-1"), tmp_path, root_id="executor-demo@1")
    assert package.plugin_id == "executor-demo@1"
    assert package.display_name == "Executor Demo"
    assert package.connector_ids == ("calendar", "connector_drive")
    assert [s.name for s in package.skills] == ["executor-demo:aaa", "executor-demo:deploy"]
    deploy = package.skills[1]
    assert deploy.description == "Deploy the project."
    assert "Run make deploy." in deploy.contents
    assert any("broken/SKILL.md" in w for w in package.warnings)


async def test_declarations_are_read_concurrently(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            MANIFEST: json.dumps({"name": "p", "apps": "./.app.json"}),
            ".mcp.json": json.dumps({"s": {"command": "x"}}),
            ".app.json": json.dumps({"apps": {"a": {"id": "a"}}}),
        },
    )
    env = FsEnvironment()
    in_flight = 0
    peak = 0
    original = env.read_file

    async def counting_read(path: str) -> bytes:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await anyio.sleep(0.01)
            return await original(path)
        finally:
            in_flight -= 1

    env.read_file = counting_read  # type: ignore[method-assign]
    package = await discover(env, tmp_path)
    assert package.connector_ids == ("a",) and len(package.servers) == 1
    assert peak >= 2  # .mcp.json and .app.json were read at the same time


# ------------------------------------------------------------------ the discoverV1 bundle path


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
async def test_bundle_path_matches_the_filesystem_path(tmp_path: Path, fixture: str) -> None:
    write(tmp_path, FIXTURES[fixture])
    from_fs = await discover(FsEnvironment("executor-1"), tmp_path)
    from_bundle = plugin_from_discovery("selected-root", "executor-1", bundle_for(tmp_path))
    assert from_fs is not None
    assert from_bundle == from_fs


async def test_bundle_error_or_missing_plugin_gives_nothing(tmp_path: Path) -> None:
    not_a_dir = {"id": "r", "path": "file:///x", "error": "capability root file:///x is not a directory"}
    assert plugin_from_discovery("r", "e", not_a_dir) is None
    assert plugin_from_discovery("r", "e", {"id": "r", "path": "file:///x", "plugin": None, "skills": []}) is None


async def test_bundle_that_omits_the_declared_file_yields_no_servers(tmp_path: Path) -> None:
    write(tmp_path, FIXTURES["declared-path"])
    bundle = bundle_for(tmp_path)
    bundle["plugin"]["mcpConfig"]["path"] = str(PathUri.from_native(str(tmp_path / "other.json")))
    package = plugin_from_discovery("selected-root", "executor-1", bundle)
    assert package is not None and package.servers == ()


async def test_local_environment_discovery_matches_when_available(tmp_path: Path) -> None:
    local = pytest.importorskip("rootstep.environments.local")
    env = local.LocalEnvironment()
    write(tmp_path, FIXTURES["default-file-and-apps"])
    uri = str(PathUri.from_native(str(tmp_path)))
    [entry] = await env.discover_capability_roots([("selected-root", uri)])
    from_bundle = plugin_from_discovery("selected-root", env.id, entry)
    from_fs = await discover_plugin(env, "selected-root", env.id, PathUri.from_native(str(tmp_path)))
    assert from_bundle == from_fs
    assert from_fs is not None and from_fs.connector_ids == ("calendar",)
