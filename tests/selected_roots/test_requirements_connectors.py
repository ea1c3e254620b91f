"""Managed requirements keyed by the selected root id, and connector tools attributed to the
plugin of a ready root (spec §3.6, §5.5, §6.6). Roots in the ``local`` environment keep these fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    function_call_response,
    write_config,
)
from tests.selected_roots.helpers import child_tool, namespace, pids, root, write_plugin

pytestmark = pytest.mark.timeout(120)
APPS_SERVER = str(Path(__file__).resolve().parent / "apps_server.py")


def test_selected_plugin_servers_use_managed_requirements_for_the_selected_root_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    managed = tmp_path / "managed"
    managed.mkdir()
    (managed / "requirements.toml").write_text(
        f'[plugins."allowed@1".mcp_servers.srv_allowed.identity]\ncommand = {json.dumps(sys.executable)}\n'
        '[plugins."mismatched@1".mcp_servers.srv_mismatched.identity]\ncommand = "/usr/bin/not-this-one"\n'
    )
    plugins = {}
    for kind in ("allowed", "mismatched", "unlisted"):
        # The manifest name differs from the root id: requirements use the root id.
        plugins[kind] = write_plugin(
            tmp_path / kind, pid_file=tmp_path / f"{kind}.pids", name=f"different-manifest-name-{kind}",
            display=kind.title(), server=f"srv_{kind}", skill=False,
        )
    before = descendants()
    with MockModel() as model:
        write_config(home, model)
        env = {"CODEX_APP_SERVER_MANAGED_CONFIG_PATH": str(managed / "managed_config.toml")}
        with AppServerProcess(home, env=env) as app:
            app.initialize()
            roots = [root(f"{kind}@1", "local", path) for kind, path in plugins.items()]
            thread = app.call("thread/start", {"selectedCapabilityRoots": roots})["thread"]["id"]
            model.queue(assistant_text("ok"))
            assert app.run_turn(thread, "hi")["status"] == "completed"
            body = model.requests[0].body
            assert child_tool(body, "mcp__srv_allowed", "echo") is not None
            assert namespace(body, "mcp__srv_mismatched") is None
            assert namespace(body, "mcp__srv_unlisted") is None
            assert len(pids(tmp_path / "allowed.pids")) == 1
            assert pids(tmp_path / "mismatched.pids") == [] and pids(tmp_path / "unlisted.pids") == []
            listed = {e["name"]: e for e in app.call("mcpServerStatus/list", {"threadId": thread})["data"]}
            assert {"srv_allowed", "srv_mismatched", "srv_unlisted"} <= set(listed)
            assert listed["srv_allowed"]["tools"] and not listed["srv_unlisted"]["tools"]
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)


def _apps_server(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, APPS_SERVER, "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**__import__("os").environ, "APPS_AUTH_FILE": str(tmp_path / "auth-headers.txt")},
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("LISTENING "), line
    return process, int(line.split()[1])


def test_connector_tools_are_attributed_to_a_ready_selected_plugin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    apps, port = _apps_server(tmp_path)
    try:
        with MockModel() as model:
            write_config(home, model)
            config = home / "config.toml"
            text = config.read_text().replace("[features]\n", "[features]\napps = true\n")
            config.write_text(f'chatgpt_base_url = "http://127.0.0.1:{port}"\n' + text)
            (home / "auth.json").write_text(json.dumps({
                "auth_mode": "chatgpt", "OPENAI_API_KEY": None,
                "tokens": {"id_token": "x.y.z", "access_token": "apps-access-token", "refresh_token": "r",
                           "account_id": "account-123"},
            }))
            plugin = write_plugin(tmp_path / "plugin", pid_file=tmp_path / "pids", connectors=["calendar"], skill=False)
            with AppServerProcess(home) as app:
                app.initialize()
                selected = app.call(
                    "thread/start", {"selectedCapabilityRoots": [root("executor-demo@1", "local", plugin)]}
                )["thread"]["id"]
                plain = app.call("thread/start", {})["thread"]["id"]
                model.queue(
                    function_call_response("c1", "create_event", '{"title": "standup"}',
                                           namespace="mcp__codex_apps__calendar"),
                    assistant_text("ok"),
                )
                assert app.run_turn(selected, "plan")["status"] == "completed"
                tool = child_tool(model.requests[0].body, "mcp__codex_apps__calendar", "create_event")
                assert tool is not None, model.requests[0].body["tools"]
                assert tool["description"] == "Create a calendar event. This tool is part of plugin `Executor Demo`."
                assert "created standup" in json.dumps(model.requests[1].body["input"])
                item = app.wait_notification(
                    "item/completed", lambda m: m["params"]["item"].get("type") == "mcpToolCall"
                )["params"]["item"]
                assert item["server"] == "codex_apps" and item["status"] == "completed"
                assert item["appContext"]["connectorId"] == "calendar" and item["appContext"]["appName"] == "Calendar"
                model.queue(assistant_text("ok"))
                assert app.run_turn(plain, "plan")["status"] == "completed"
                tool = child_tool(model.requests[2].body, "mcp__codex_apps__calendar", "create_event")
                assert tool is not None and tool["description"] == "Create a calendar event"
                app.assert_schema_clean()
                assert app.close() == 0
        assert "Bearer apps-access-token" in (tmp_path / "auth-headers.txt").read_text()
    finally:
        apps.terminate()
        apps.wait(timeout=10)
