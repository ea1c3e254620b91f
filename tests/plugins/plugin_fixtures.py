"""Plugin folders for tests, and the ``capabilityRoots/discoverV1`` entry the spec says an
executor returns for them (exec-server spec §2.6), built independently of our exec-server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rootstep.plugins import PathUri

MANIFEST = ".codex-plugin/plugin.json"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def bundle_for(root: Path, root_id: str = "selected-root") -> dict[str, Any]:
    """A ``capabilityRoots/discoverV1`` entry for ``root``, built the way the spec describes."""

    def file(rel: str) -> dict[str, str] | None:
        path = root / rel
        return {"path": str(PathUri.from_native(str(path))), "contents": path.read_text()} if path.is_file() else None

    manifest_rel = next((m for m in (".codex-plugin/plugin.json", ".claude-plugin/plugin.json",
                                     ".cursor-plugin/plugin.json") if (root / m).is_file()), None)
    plugin = None
    if manifest_rel:
        raw = json.loads((root / manifest_rel).read_text())
        mcp = raw.get("mcpServers")
        mcp_rel = None if isinstance(mcp, dict) else (mcp[2:] if isinstance(mcp, str) else ".mcp.json")
        apps = raw.get("apps")
        plugin = {
            "manifest": file(manifest_rel),
            "mcpConfig": file(mcp_rel) if mcp_rel else None,
            "appsConfig": file(apps[2:]) if isinstance(apps, str) else None,
        }
    skills = sorted(
        ({"instructions": file(str(p.relative_to(root))), "metadata": None} for p in root.rglob("SKILL.md")),
        key=lambda s: s["instructions"]["path"],
    )
    return {"id": root_id, "path": str(PathUri.from_native(str(root))), "plugin": plugin, "skills": skills,
            "warnings": [], "error": None}


FIXTURES: dict[str, dict[str, str]] = {
    "declared-path": {
        MANIFEST: json.dumps({"name": "demo", "interface": {"displayName": "Demo"}, "mcpServers": "./servers.json"}),
        "servers.json": json.dumps(
            {"mcpServers": {"first": {"command": "first"}, "second": {"command": "second", "cwd": "bin"}}}),
    },
    "default-file-and-apps": {
        MANIFEST: json.dumps({"name": "executor-demo", "apps": "./.app.json"}),
        ".mcp.json": json.dumps({"executor_demo": {"command": "python3", "env_vars": ["MARK"]},
                                 "executor_http": {"url": "http://127.0.0.1:1/mcp", "type": "http"}}),
        ".app.json": json.dumps({"apps": {"calendar": {"id": "calendar"}}}),
        "skills/deploy/SKILL.md": "---\nname: deploy\ndescription: Deploy.\n---\nbody\n",
        "elsewhere/x/SKILL.md": "---\nname: stray\ndescription: not under skills/\n---\n",
    },
    "inline": {MANIFEST: json.dumps({"name": "inline", "mcpServers": {"s": {"url": "https://x/mcp"}}})},
    "skill-only": {MANIFEST: json.dumps({"name": "skill-only"}),
                   "skills/a/SKILL.md": "---\nname: a\ndescription: A.\n---\n"},
    "broken-mcp": {MANIFEST: "{}", ".mcp.json": "{nope"},
}
