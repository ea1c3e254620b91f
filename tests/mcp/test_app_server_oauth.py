"""An OAuth-protected streamable-HTTP MCP server used by a thread: stored tokens authorize it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess, rootstep_command
from tests.fixtures.mock_model import MockModel, write_config
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import login

pytestmark = pytest.mark.timeout(120)


def test_stored_oauth_tokens_authorize_the_server_for_threads(tmp_path: Path):
    home = tmp_path / "home"
    command = rootstep_command("-c", 'mcp_oauth_credentials_store="file"')
    before = descendants()
    with MockModel() as model, OAuthTestServer() as oauth:
        write_config(home, model, extra=f'\n[mcp_servers.notes]\nurl = "{oauth.mcp_url}"\n')
        with AppServerProcess(home, command=command, env={"NO_PROXY": "127.0.0.1"}) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
            [entry] = app.call("mcpServerStatus/list", {"threadId": thread_id})["data"]
            assert entry["authStatus"] == "notLoggedIn" and entry["tools"] == {}
            failed = app.wait_notification("mcpServer/startupStatus/updated",
                                           lambda m: m["params"]["status"] == "failed")
            assert failed["params"]["name"] == "notes"
            app.assert_schema_clean()
            app.close()

        anyio.run(login, oauth, home)  # tokens land in CODEX_HOME/.credentials.json

        with AppServerProcess(home, command=command, env={"NO_PROXY": "127.0.0.1"}) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
            [entry] = app.call("mcpServerStatus/list", {"threadId": thread_id})["data"]
            assert entry["authStatus"] == "oAuth" and "echo" in entry["tools"]
            result = app.call("mcpServer/tool/call", {"threadId": thread_id, "server": "notes", "tool": "echo",
                                                      "arguments": {"message": "with a token"}})
            assert result["content"][0]["text"] == "ECHOING: with a token"
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)
