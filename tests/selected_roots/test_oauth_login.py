"""``mcpServer/oauth/login`` with ``threadId`` finds a selected root's HTTP server; a thread that
did not select the root does not (spec §7.1, §11.6)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess, rootstep_command
from tests.fixtures.mock_model import MockModel, write_config
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse
from tests.selected_roots.helpers import root

pytestmark = pytest.mark.timeout(120)


def test_oauth_login_with_thread_id_uses_the_threads_projection(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True)
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "oauth-demo"}))
    before = descendants()
    with MockModel() as model, OAuthTestServer() as oauth:
        (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {"executor_oauth": {"url": oauth.mcp_url}}}))
        write_config(home, model)
        command = rootstep_command("-c", 'mcp_oauth_credentials_store="file"')
        with AppServerProcess(home, command=command, env={"NO_PROXY": "127.0.0.1"}) as app:
            app.initialize()
            selected = app.call("thread/start", {"selectedCapabilityRoots": [root("oauth-demo@1", "local", plugin)]})
            selected_id = selected["thread"]["id"]
            plain = app.call("thread/start", {})["thread"]["id"]
            err = app.call_error("mcpServer/oauth/login", {"name": "executor_oauth", "threadId": plain})
            assert err.code == -32600 and err.message == "No MCP server named 'executor_oauth' found."
            started = app.call("mcpServer/oauth/login", {"name": "executor_oauth", "threadId": selected_id})
            url = started["authorizationUrl"]
            assert url.startswith(oauth.base_url) and "client_id=" in url and "state=" in url
            page = anyio.run(browse, url)
            assert page.status_code == 200
            done = app.wait_notification("mcpServer/oauthLogin/completed")["params"]
            assert done["name"] == "executor_oauth" and done["threadId"] == selected_id
            assert done["success"] is True and not done.get("error")
            assert oauth.grants("authorization_code")
            # The stored tokens now authorize the plugin's server for that thread.
            result = app.call(
                "mcpServer/tool/call",
                {"threadId": selected_id, "server": "executor_oauth", "tool": "echo", "arguments": {"message": "hi"}},
            )
            assert "hi" in json.dumps(result)
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)
