"""A plugin tree, an executor in environments.toml, and small readers for the selected-roots tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.mcp_helpers import ECHO_SERVER, read_pids

ROOTSTEP_EXECUTOR = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
MARKER = "MCP_EXECUTOR_MARKER"
MARKER_VALUE = "executor-only-value"
CONNECTED = "environment `{}` connected"


def write_plugin(
    root: Path,
    *,
    pid_file: Path,
    name: str = "executor-demo",
    display: str = "Executor Demo",
    server: str = "executor_demo",
    http_url: str | None = None,
    connectors: list[str] | None = None,
    skill: bool = True,
    env_vars: bool = True,
) -> Path:
    """A plugin with a stdio echo server (pid file, executor-only env var), optionally an HTTP
    server, a `deploy` skill and an `.app.json` connector list."""
    (root / ".codex-plugin").mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"name": name, "interface": {"displayName": display}}
    servers: dict[str, Any] = {
        server: {
            "command": sys.executable,
            "args": [ECHO_SERVER],
            "env_vars": [MARKER] if env_vars else [],
            "env": {"MCP_TEST_PID_FILE": str(pid_file)},
        }
    }
    if http_url is not None:
        # `environment_id: local` means nothing in a plugin: it is reached from the plugin's environment.
        servers["executor_http"] = {"url": http_url, "environment_id": "local"}
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    if connectors is not None:
        manifest["apps"] = "./.app.json"
        (root / ".app.json").write_text(json.dumps({"apps": {c: {"id": c} for c in connectors}}))
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
    if skill:
        skill_dir = root / "skills" / "deploy"
        skill_dir.mkdir(parents=True, exist_ok=True)
        (skill_dir / "SKILL.md").write_text(
            "---\nname: deploy\ndescription: Deploy the executor demo\n---\n"
            "Run ./deploy.sh --prod and report the URL.\n"
        )
    return root


def write_environments(home: Path, executor: list[str], env_id: str = "executor-1", *, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "environments.toml").write_text(
        "include_local = true\n\n[[environments]]\n"
        f"id = {json.dumps(env_id)}\n"
        f"program = {json.dumps(executor[0])}\n"
        f"args = {json.dumps(executor[1:])}\n"
        "initialize_timeout_sec = 30\n"
        "[environments.env]\n"
        f"{MARKER} = {json.dumps(MARKER_VALUE)}\n" + extra
    )


def root(root_id: str, env_id: str, path: Path) -> dict[str, Any]:
    return {"id": root_id, "location": {"type": "environment", "environmentId": env_id, "path": str(path)}}


def namespace(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace" and tool.get("name") == name:
            return tool
    return None


def child_tool(body: dict[str, Any], ns: str, name: str) -> dict[str, Any] | None:
    entry = namespace(body, ns)
    if entry is None:
        return None
    return next((t for t in entry["tools"] if t["name"] == name), None)


def developer_texts(body: dict[str, Any], prefix: str) -> list[str]:
    out = []
    for item in body.get("input", []):
        if item.get("type") == "message" and item.get("role") == "developer":
            out += [c["text"] for c in item["content"] if c.get("text", "").startswith(prefix)]
    return out


def pids(path: Path) -> list[int]:
    return read_pids(path)
