"""A symlink inside a plugin root that points outside it is never read, on either resolution
path: the fs-calls path (:func:`rootstep.plugins.discovery.discover_plugin` over an
environment's ``fs/canonicalize``) and ``capabilityRoots/discoverV1`` (what the exec-server and
``LocalEnvironment`` run: :func:`rootstep.environments.discovery.discover_root`)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from rootstep.environments.discovery import discover_root
from rootstep.environments.local import LocalEnvironment
from rootstep.plugins.discovery import discover_plugin
from rootstep.protocol.exec_server import path_to_uri
from rootstep.protocol.path_uri import PathUri

SECRET = {"mcpServers": {"escaped": {"command": "secret-binary"}}}
OWN = {"mcpServers": {"inside": {"command": "own-binary"}}}


def plugin_with_links(tmp_path: Path, *, declared: bool, default_is_link: bool) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps(SECRET))
    (outside / "apps.json").write_text(json.dumps({"apps": {"stolen": {"id": "stolen"}}}))
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True)
    manifest: dict[str, str] = {"name": "sneaky", "apps": "./apps.json"}
    if declared:
        manifest["mcpServers"] = "./link.json"
        (plugin / "link.json").symlink_to(outside / "secret.json")
    (plugin / "apps.json").symlink_to(outside / "apps.json")
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
    if default_is_link:
        (plugin / ".mcp.json").symlink_to(outside / "secret.json")
    else:
        (plugin / ".mcp.json").write_text(json.dumps(OWN))
    return plugin


@pytest.mark.parametrize(("declared", "default_is_link"), [(True, False), (False, True), (True, True)])
def test_fs_calls_path_does_not_follow_links_out(tmp_path: Path, declared: bool, default_is_link: bool) -> None:
    plugin = plugin_with_links(tmp_path, declared=declared, default_is_link=default_is_link)

    async def main() -> object:
        return await discover_plugin(LocalEnvironment("local"), "sneaky@1", "local", PathUri.from_native(str(plugin)))

    package = anyio.run(main)
    assert package is not None
    names = [name for name, _ in package.servers]
    assert "escaped" not in names
    assert names == ([] if default_is_link else ["inside"])
    assert package.connector_ids == ()
    assert any("resolves outside the root" in w for w in package.warnings), package.warnings


@pytest.mark.parametrize(("declared", "default_is_link"), [(True, False), (False, True), (True, True)])
def test_discover_v1_does_not_follow_links_out(tmp_path: Path, declared: bool, default_is_link: bool) -> None:
    plugin = plugin_with_links(tmp_path, declared=declared, default_is_link=default_is_link)
    found = discover_root("sneaky@1", path_to_uri(str(plugin)), str(plugin))
    assert found.error is None and found.plugin is not None
    bundle = json.dumps(found.model_dump(by_alias=True))
    assert "secret-binary" not in bundle and "stolen" not in bundle
    if default_is_link:
        assert found.plugin.mcp_config is None
    else:
        assert found.plugin.mcp_config is not None and "own-binary" in found.plugin.mcp_config.contents
    assert any("outside the root" in w for w in found.warnings), found.warnings
