"""A selected plugin's files are hostile (issue 16, items 2 and 10).

A ``SKILL.md`` that links to ``/dev/zero``, is a FIFO or a sparse file of gigabytes used to take
the app-server (local environment) or the executor past 4 GiB, or hang the turn; links to files
outside the plugin root put another file's text in front of the model. Every resolution path now
reads regular files only, within the limits ``capabilityRoots/discoverV1`` has (1 MiB a file,
16 MiB a root), and nothing that resolves outside the root: the per-file path in-process
(``LocalEnvironment``, in a memory-capped subprocess) and through ``rootstep exec-server``
(memory-capped), and ``capabilityRoots/discoverV1`` of that executor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from rootstep.environments.remote import RemoteEnvironment
from rootstep.plugins.discovery import PluginPackage, discover_plugin, plugin_from_discovery
from rootstep.protocol.path_uri import PathUri
from tests.security.conftest import CAPPED_EXEC_SERVER, link_to, make_fifo, make_sparse, memory_capped

SECRET = "SECRET-OUTSIDE-THE-ROOT"
FILE_LIMIT = "file is too large to read: limit is 1048576 bytes"


def write_skill(path: Path, name: str, description: str = "a skill", pad: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nname: {name}\ndescription: {description}\n---\n" + "x" * pad)


def hostile_plugin(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    write_skill(outside / "SKILL.md", "escape", SECRET)
    write_skill(outside / "linked" / "SKILL.md", "linked", SECRET)
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True)
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "hostile"}))
    skills = plugin / "skills"
    link_to(skills / "zero" / "SKILL.md", "/dev/zero")
    make_fifo(skills / "fifo" / "SKILL.md")
    make_sparse(skills / "sparse" / "SKILL.md", 4 << 30, b"---\nname: sparse\ndescription: d\n---\n")
    write_skill(skills / "big" / "SKILL.md", "big", pad=2 * 1024 * 1024)
    write_skill(skills / "fine" / "SKILL.md", "fine")
    link_to(skills / "escape" / "SKILL.md", outside / "SKILL.md")
    link_to(skills / "linked", outside / "linked")
    return plugin


def linked_manifest_plugin(tmp_path: Path) -> Path:
    (tmp_path / "elsewhere.json").write_text(json.dumps({"name": "borrowed", "description": SECRET}))
    plugin = tmp_path / "borrowed"
    link_to(plugin / ".codex-plugin" / "plugin.json", tmp_path / "elsewhere.json")
    write_skill(plugin / "skills" / "fine" / "SKILL.md", "fine")
    return plugin


def summary(package: PluginPackage | None) -> dict[str, Any] | None:
    if package is None:
        return None
    return {"skills": [s.name for s in package.skills], "contents": [s.contents for s in package.skills],
            "warnings": list(package.warnings)}


def warning_for(warnings: list[str], skill: str) -> str:
    [found] = [w for w in warnings if f"/skills/{skill}/SKILL.md" in w]
    return found


def assert_per_file_outcome(result: dict[str, Any] | None) -> None:
    assert result is not None
    assert result["skills"] == ["hostile:fine"]
    assert SECRET not in json.dumps(result["contents"])
    warnings = result["warnings"]
    fifo = warning_for(warnings, "fifo")
    assert fifo.endswith("/skills/fifo/SKILL.md` is not a file") and "failed to read file: path `" in fifo
    for name in ("sparse", "big"):
        assert warning_for(warnings, name).endswith(f"failed to read file: {FILE_LIMIT}")
    for name in ("zero", "escape", "linked"):  # /dev/zero is outside the root as well
        assert warning_for(warnings, name).endswith("resolves outside the root")


LOCAL_DISCOVERY = """
import json, sys, anyio
from rootstep.environments.local import LocalEnvironment
from rootstep.plugins.discovery import discover_plugin
from rootstep.protocol.path_uri import PathUri

async def main():
    package = await discover_plugin(LocalEnvironment("local"), "p", "local", PathUri.from_native(sys.argv[1]))
    if package is None:
        print("null")
        return
    print(json.dumps({"skills": [s.name for s in package.skills], "contents": [s.contents for s in package.skills],
                      "warnings": list(package.warnings)}))

anyio.run(main)
"""


def discover_locally(root: Path) -> dict[str, Any] | None:
    done = subprocess.run(memory_capped([sys.executable, "-c", LOCAL_DISCOVERY, str(root)]),
                          capture_output=True, timeout=60, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_local_environment_reads_only_bounded_regular_files_inside_the_root(tmp_path: Path) -> None:
    assert_per_file_outcome(discover_locally(hostile_plugin(tmp_path)))
    assert discover_locally(linked_manifest_plugin(tmp_path)) is None  # not a plugin: its manifest is elsewhere


@pytest.mark.anyio
@pytest.mark.timeout(90)
async def test_executor_paths_read_only_bounded_regular_files_inside_the_root(tmp_path: Path) -> None:
    plugin, borrowed = hostile_plugin(tmp_path), linked_manifest_plugin(tmp_path)
    program, *args = CAPPED_EXEC_SERVER
    async with RemoteEnvironment.connect_stdio("executor", program, args) as env:
        with anyio.fail_after(60):  # a FIFO used to block the executor's connection for ever
            root = PathUri.from_native(str(plugin))
            assert_per_file_outcome(summary(await discover_plugin(env, "p", "executor", root)))
            assert await discover_plugin(env, "b", "executor", PathUri.from_native(str(borrowed))) is None

            entry, other = await env.discover_capability_roots([("p", str(plugin)), ("b", str(borrowed))])
            assert SECRET not in json.dumps(entry) + json.dumps(other)
            package = plugin_from_discovery("p", "executor", entry)
            assert package is not None and [s.name for s in package.skills] == ["hostile:fine"]
            assert other["plugin"] is None
            warnings = entry["warnings"]
            assert any("/skills/sparse/SKILL.md exceeds the 1048576-byte limit" in w for w in warnings), warnings
            assert any("/skills/big/SKILL.md exceeds the 1048576-byte limit" in w for w in warnings), warnings
            assert any("/skills/linked/SKILL.md: it resolves outside the root" in w for w in warnings), warnings
            # The executor still answers.
            assert (await env.get_metadata(str(plugin))) is not None
