"""MCP OAuth end to end through the app-server process (spec §7, §8, §2.11).

A config.toml streamable-HTTP server sits behind the loopback OAuth server; the client logs in
with ``mcpServer/oauth/login``, the test's "browser" (httpx2) follows the authorization URL, and
the model's tool calls then carry the bearer — through expiry, refresh, and a revoked refresh
token that leaves the server needing a new login.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from tests.fixtures.app_server import AppServerProcess, checked_app_server, rootstep_command
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse
from tests.selected_roots.helpers import root

pytestmark = pytest.mark.timeout(120)

COMMAND = rootstep_command("-c", 'mcp_oauth_credentials_store="file"')
ENV = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


@pytest.fixture
def oauth() -> Iterator[OAuthTestServer]:
    with OAuthTestServer() as server:
        yield server


@pytest.fixture
def model() -> Iterator[MockModel]:
    with MockModel() as mock:
        yield mock


@pytest.fixture
def home(tmp_path: Path, model: MockModel, oauth: OAuthTestServer) -> Path:
    home = tmp_path / "home"
    write_config(home, model, extra=(
        f'\n[mcp_servers.notes]\nurl = "{oauth.mcp_url}"\ndefault_tools_approval_mode = "approve"\n'
        '\n[mcp_servers.local]\ncommand = "/nonexistent/rootstep-stdio-server"\n'
    ))
    return home


@pytest.fixture
def app(home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(home, command=COMMAND, env=ENV) as server:
        yield server


def _status(app: AppServerProcess, thread_id: str, name: str = "notes") -> dict:
    listed = app.call("mcpServerStatus/list", {"threadId": thread_id})["data"]
    return next(entry for entry in listed if entry["name"] == name)


def _tool_turn(app: AppServerProcess, model: MockModel, thread_id: str, message: str) -> tuple[dict, dict]:
    """One turn in which the model calls ``notes.echo``; returns (turn, the mcpToolCall item)."""
    model.queue(
        function_call_response(f"call-{message}", "echo", json.dumps({"message": message}), namespace="mcp__notes"),
        assistant_text("done"),
    )
    turn = app.run_turn(thread_id, f"echo {message}")
    item = next(
        m["params"]["item"] for m in app.notifications("item/completed")
        if m["params"]["item"]["type"] == "mcpToolCall" and m["params"]["item"]["id"] == f"call-{message}"
    )
    return turn, item


def _login(app: AppServerProcess, thread_id: str) -> dict:
    started = app.call("mcpServer/oauth/login", {"name": "notes", "threadId": thread_id})
    page = anyio.run(browse, started["authorizationUrl"])
    assert page.status_code == 200 and page.text == "Authentication complete. You may close this window."
    done = app.wait_notification("mcpServer/oauthLogin/completed")["params"]
    assert done["loginId"] == started["loginId"]
    return done


def test_login_then_refresh_then_revoked_refresh_needs_login(app: AppServerProcess, model: MockModel,
                                                             oauth: OAuthTestServer, home: Path) -> None:
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    before = _status(app, thread_id)
    assert before["authStatus"] == "notLoggedIn" and before["tools"] == {}
    # Never logged in: the thread's startup fails with a login hint, not "reauthentication".
    failed = app.wait_notification(
        "mcpServer/startupStatus/updated",
        lambda m: m["params"]["name"] == "notes" and m["params"]["status"] == "failed",
    )["params"]
    assert failed["error"] == "The notes MCP server is not logged in. Run `rootstep mcp login notes`."
    assert "failureReason" not in failed

    done = _login(app, thread_id)
    assert done == {**done, "name": "notes", "threadId": thread_id, "success": True}
    assert not done.get("error")
    path = home / ".credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    after = _status(app, thread_id)
    assert after["authStatus"] == "oAuth" and "echo" in after["tools"]

    # The model's call carries the bearer.
    turn, item = _tool_turn(app, model, thread_id, "first")
    assert turn["status"] == "completed"
    assert item["status"] == "completed", item
    assert item["result"]["content"][0]["text"] == "ECHOING: first"

    # The access token expires (server side; the next ones live 1 s): a 401, one refresh, the
    # call goes through; the next call refreshes before sending (expiry within 30 s).
    oauth.access_token_ttl = 1
    oauth.expire_access_tokens()
    turn, item = _tool_turn(app, model, thread_id, "second")
    assert item["status"] == "completed", item
    assert item["result"]["content"][0]["text"] == "ECHOING: second"
    refreshed = len([r for r in oauth.grants("refresh_token") if r.status == 200])
    assert refreshed >= 1
    turn, item = _tool_turn(app, model, thread_id, "third")
    assert item["status"] == "completed", item
    assert len([r for r in oauth.grants("refresh_token") if r.status == 200]) > refreshed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # rewritten by the refresh, still owner-only

    # The refresh token is revoked and the access token expires: the call fails (no hang), the
    # rejected refresh token is not tried again, and the status says "needs login".
    oauth.revoke_refresh_tokens()
    oauth.expire_access_tokens()
    turn, item = _tool_turn(app, model, thread_id, "fourth")
    assert turn["status"] == "completed"
    assert item["status"] == "failed" and item["result"] is None
    assert "MCP server `notes` requires OAuth login: the refresh token was rejected" in item["error"]["message"], item
    assert oauth.grants("refresh_token")[-1].status == 400
    rejected = len(oauth.grants("refresh_token"))
    status = _status(app, thread_id)
    assert status["authStatus"] == "notLoggedIn" and status["tools"] == {}
    turn, item = _tool_turn(app, model, thread_id, "fifth")
    assert item["status"] == "failed"
    assert len(oauth.grants("refresh_token")) == rejected  # a rejected refresh token is spent for good
    stored = json.loads(path.read_text())
    assert [entry.get("refresh_token") for entry in stored.values()] == [None]

    # Logging in again brings the server back for the same thread.
    done = _login(app, thread_id)
    assert done["success"] is True
    assert _status(app, thread_id)["authStatus"] == "oAuth"
    turn, item = _tool_turn(app, model, thread_id, "sixth")
    assert item["status"] == "completed", item
    assert item["result"]["content"][0]["text"] == "ECHOING: sixth"


def test_a_runtime_started_after_the_refresh_token_was_revoked_says_reauthentication_required(
        app: AppServerProcess, oauth: OAuthTestServer) -> None:
    first = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    assert _login(app, first)["success"] is True
    oauth.access_token_ttl = 1
    oauth.expire_access_tokens()
    oauth.revoke_refresh_tokens()
    second = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    assert _status(app, second)["authStatus"] == "notLoggedIn"
    failed = app.wait_notification(
        "mcpServer/startupStatus/updated",
        lambda m: m["params"]["threadId"] == second and m["params"]["name"] == "notes"
        and m["params"]["status"] == "failed",
    )["params"]
    assert failed["failureReason"] == "reauthenticationRequired"
    assert failed["error"] == "The notes MCP server is not logged in. Run `rootstep mcp login notes`."
    status = _status(app, second)
    assert status["authStatus"] == "notLoggedIn" and status["runtimeStatus"] == "authenticationRequired"


def test_login_timeout_sends_a_failed_completion_and_closes_the_callback(
    app: AppServerProcess, oauth: OAuthTestServer
) -> None:
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    started = app.call("mcpServer/oauth/login", {"name": "notes", "threadId": thread_id, "timeoutSecs": 1})
    done = app.wait_notification("mcpServer/oauthLogin/completed")["params"]
    assert done["success"] is False and done["threadId"] == thread_id and done["name"] == "notes"
    assert done["error"] == "timed out waiting for OAuth callback"
    with pytest.raises(httpx2.ConnectError):  # the listener is gone: a late browser reaches nobody
        anyio.run(browse, started["authorizationUrl"])
    assert not oauth.grants("authorization_code")
    assert _status(app, thread_id)["authStatus"] == "notLoggedIn"


def test_a_callback_with_the_wrong_state_does_not_complete_the_login(app: AppServerProcess, oauth: OAuthTestServer,
                                                                     home: Path) -> None:
    started = app.call("mcpServer/oauth/login", {"name": "notes"})
    query = parse_qs(urlsplit(started["authorizationUrl"]).query)
    redirect = query["redirect_uri"][0]
    assert urlsplit(redirect).hostname == "127.0.0.1"

    async def forged() -> httpx2.Response:
        async with httpx2.AsyncClient(trust_env=False) as browser:
            return await browser.get(redirect, params={"code": "stolen-code", "state": "not-the-state"})

    page = anyio.run(forged)
    assert page.status_code == 400 and page.text == "Invalid OAuth callback"
    assert not oauth.token_requests and not (home / ".credentials.json").exists()
    assert not app.notifications("mcpServer/oauthLogin/completed")
    # The real redirect still completes the same login.
    assert anyio.run(browse, started["authorizationUrl"]).status_code == 200
    done = app.wait_notification("mcpServer/oauthLogin/completed")["params"]
    assert done["success"] is True and done["threadId"] is None and done["loginId"] == started["loginId"]
    assert len(oauth.grants("authorization_code")) == 1


def test_login_for_a_stdio_server_is_invalid_request(app: AppServerProcess, oauth: OAuthTestServer) -> None:
    thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    for params in ({"name": "local"}, {"name": "local", "threadId": thread_id}):
        err = app.call_error("mcpServer/oauth/login", params)
        assert err.code == -32600 and err.message == "OAuth login is only supported for streamable HTTP servers."
    err = app.call_error("mcpServer/oauth/login", {"name": "nope", "threadId": thread_id})
    assert err.code == -32600 and err.message == "No MCP server named 'nope' found."
    assert not oauth.registrations
    assert not app.notifications("mcpServer/oauthLogin/completed")


def test_login_names_only_servers_of_the_named_thread(
    app: AppServerProcess, oauth: OAuthTestServer, tmp_path: Path
) -> None:
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True)
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "oauth-notes"}))
    (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {"plugin_notes": {"url": oauth.mcp_url}}}))
    selected = app.call("thread/start", {
        "model": "mock-model", "selectedCapabilityRoots": [root("oauth-notes@1", "local", plugin)],
    })["thread"]["id"]
    plain = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    for params in ({"name": "plugin_notes", "threadId": plain}, {"name": "plugin_notes"}):
        err = app.call_error("mcpServer/oauth/login", params)
        assert err.code == -32600 and err.message == "No MCP server named 'plugin_notes' found."
    assert not oauth.registrations
    started = app.call("mcpServer/oauth/login", {"name": "plugin_notes", "threadId": selected})
    assert anyio.run(browse, started["authorizationUrl"]).status_code == 200
    done = app.wait_notification("mcpServer/oauthLogin/completed")["params"]
    assert done["success"] is True and done["name"] == "plugin_notes" and done["threadId"] == selected
