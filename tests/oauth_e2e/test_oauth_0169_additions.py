"""The two codex 0.169 OAuth additions through the app-server process (spec §7.1, §7.3, §12.1).

* ``mcpServer/oauth/login {clientRegistration}``: ``cimd`` puts codex's client-metadata URL in
  the authorization URL (the auth server sees it), or fails with the reference's ``-32603``
  when the server cannot take CIMD — and the server keeps serving; ``dcr`` registers.
* Executor-owned credentials: a selected root's HTTP server in the executor ``executor-1``
  stores its tokens under ``executor:<b64url(env)>:<b64url(name)>`` with ``executor_owned``, a
  plain entry of the same name and URL does not authorize it, and its next call uses the new
  tokens. The reference half logs in with the 0.169 app-server, and rootstep uses the
  credentials file it wrote (and the reverse).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from rootstep.mcp.oauth import client_metadata_url, credential_name, perform_login, store_key
from tests.fixtures.app_server import AppServerProcess, checked_app_server, rootstep_command
from tests.fixtures.mock_model import MockModel, assistant_text, write_config
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse, complete, http_config, settings
from tests.selected_roots.helpers import CONNECTED, root

pytestmark = pytest.mark.timeout(180)

COMMAND = rootstep_command("-c", 'mcp_oauth_credentials_store="file"')
ENV = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
EXECUTOR_ENV = {**ENV, "ROOTSTEP_LOG": "INFO"}  # to see the executor's `connected` line
EXECUTOR = "executor-1"
SERVER = "executor_oauth"


@pytest.fixture
def model() -> Iterator[MockModel]:
    with MockModel() as mock:
        yield mock


def _home(tmp_path: Path, model: MockModel, oauth: OAuthTestServer, name: str = "home") -> Path:
    home = tmp_path / name
    write_config(home, model, extra=f'\n[mcp_servers.notes]\nurl = "{oauth.mcp_url}"\n')
    return home


def _login(app: AppServerProcess, params: dict) -> tuple[dict, dict]:
    started = app.call("mcpServer/oauth/login", params)
    page = anyio.run(browse, started["authorizationUrl"])
    assert page.status_code == 200 and page.text == "Authentication complete. You may close this window."
    done = app.wait_notification("mcpServer/oauthLogin/completed",
                                 lambda m: m["params"]["loginId"] == started["loginId"])
    return started, done["params"]


# --- clientRegistration --------------------------------------------------------------------


def test_cimd_login_sends_the_url_client_id_and_dcr_registers(tmp_path: Path, model: MockModel) -> None:
    with OAuthTestServer(cimd_supported=True) as oauth:
        with checked_app_server(_home(tmp_path, model, oauth), command=COMMAND, env=ENV) as app:
            started, done = _login(app, {"name": "notes", "clientRegistration": "cimd"})
            assert done["success"] is True and done["name"] == "notes"
            document = client_metadata_url(oauth.mcp_url)
            assert parse_qs(urlsplit(started["authorizationUrl"]).query)["client_id"] == [document]
            assert oauth.url_client_ids == [document] and oauth.registrations == []

            started, done = _login(app, {"name": "notes", "clientRegistration": "dcr"})
            assert done["success"] is True
            assert parse_qs(urlsplit(started["authorizationUrl"]).query)["client_id"] == ["client-1"]
            assert len(oauth.registrations) == 1 and oauth.url_client_ids == [document]
            stored = json.loads((tmp_path / "home" / ".credentials.json").read_text())
            assert [e["client_id"] for e in stored.values()] == ["client-1"]  # the last login's client


def test_cimd_on_a_server_without_it_is_the_references_error(tmp_path: Path, model: MockModel) -> None:
    with OAuthTestServer() as oauth:
        with checked_app_server(_home(tmp_path, model, oauth), command=COMMAND, env=ENV) as app:
            err = app.call_error("mcpServer/oauth/login", {"name": "notes", "clientRegistration": "cimd"})
            assert err.code == -32603
            assert err.message == (
                "failed to login to MCP server 'notes': "
                "MCP authorization server does not advertise CIMD with token endpoint auth method `none`"
            )
            bad = app.call_error("mcpServer/oauth/login", {"name": "notes", "clientRegistration": "magic"})
            assert (bad.code, bad.message) == (  # 0.169's words
                -32600, "Invalid request: unknown variant `magic`, expected one of `auto`, `cimd`, `dcr`"
            )
            assert oauth.registrations == [] and oauth.authorize_requests == []
            # still serving: `auto` falls back to registration on this server
            _, done = _login(app, {"name": "notes", "clientRegistration": "auto"})
            assert done["success"] is True and len(oauth.registrations) == 1


# --- executor-owned credentials ------------------------------------------------------------


def _plugin(tmp_path: Path, oauth: OAuthTestServer) -> Path:
    plugin = tmp_path / "plugin"
    (plugin / ".codex-plugin").mkdir(parents=True, exist_ok=True)
    (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "oauth-demo"}))
    (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {SERVER: {"url": oauth.mcp_url}}}))
    return plugin


def _executor_home(tmp_path: Path, model: MockModel, oauth: OAuthTestServer, name: str) -> Path:
    home = tmp_path / name
    write_config(home, model)
    config = home / "config.toml"
    config.write_text('mcp_oauth_credentials_store = "file"\n' + config.read_text())
    executor = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
    (home / "environments.toml").write_text(
        "include_local = true\n\n[[environments]]\n"
        f"id = {json.dumps(EXECUTOR)}\nprogram = {json.dumps(executor[0])}\nargs = {json.dumps(executor[1:])}\n"
        "initialize_timeout_sec = 30\n"
    )
    return home


def _status(app: AppServerProcess, thread_id: str) -> str:
    listed = app.call("mcpServerStatus/list", {"threadId": thread_id}, timeout=60)["data"]
    return next(e for e in listed if e["name"] == SERVER)["authStatus"]


def _echo(app: AppServerProcess, thread_id: str, message: str) -> dict:
    params = {"threadId": thread_id, "server": SERVER, "tool": "echo", "arguments": {"message": message}}
    return app.call("mcpServer/tool/call", params, timeout=60)


def _executor_key(oauth: OAuthTestServer) -> str:
    return store_key(credential_name(SERVER, EXECUTOR), oauth.mcp_url)


def test_an_executor_servers_tokens_live_under_the_executor_key(tmp_path: Path, model: MockModel) -> None:
    with OAuthTestServer() as oauth:
        home = _executor_home(tmp_path, model, oauth, "home")
        # A plain (local) entry for the same name and URL, with tokens that work.
        async def local_login() -> None:
            async with httpx2.AsyncClient(trust_env=False) as http:
                pending = await perform_login(SERVER, http_config(oauth.mcp_url), http_client=http,
                                              settings=settings(home))
                result, _ = await complete(pending)
            assert result.success, result.error

        anyio.run(local_login)
        plain_key = store_key(SERVER, oauth.mcp_url)
        plain = json.loads((home / ".credentials.json").read_text())[plain_key]
        with checked_app_server(home, command=COMMAND, env=EXECUTOR_ENV) as app:
            roots = [root("oauth-demo@1", EXECUTOR, _plugin(tmp_path, oauth))]
            thread = app.call("thread/start", {"selectedCapabilityRoots": roots})
            thread_id = thread["thread"]["id"]
            app.wait_stderr(CONNECTED.format(EXECUTOR), timeout=60)  # the lazy executor's root joins
            assert _status(app, thread_id) == "notLoggedIn"  # the local entry is not the executor's

            _, done = _login(app, {"name": SERVER, "threadId": thread_id})
            assert done["success"] is True and done["threadId"] == thread_id
            entries = json.loads((home / ".credentials.json").read_text())
            assert set(entries) == {plain_key, _executor_key(oauth)}
            ours = entries[_executor_key(oauth)]
            assert ours["server_name"] == "executor:ZXhlY3V0b3ItMQ:ZXhlY3V0b3Jfb2F1dGg"
            assert _executor_key(oauth).startswith("executor:ZXhlY3V0b3ItMQ:ZXhlY3V0b3Jfb2F1dGg:")
            assert ours["executor_owned"] is True and ours["server_url"] == oauth.mcp_url
            assert entries[plain_key] == plain  # untouched

            assert _status(app, thread_id) == "oAuth"
            assert "ECHOING: first" in json.dumps(_echo(app, thread_id, "first"))
            # Its next call refreshes the executor entry, not the local one.
            oauth.expire_access_tokens()
            assert "ECHOING: second" in json.dumps(_echo(app, thread_id, "second"))
            after = json.loads((home / ".credentials.json").read_text())
            assert after[_executor_key(oauth)]["access_token"] != ours["access_token"]
            assert after[_executor_key(oauth)]["executor_owned"] is True
            assert after[plain_key] == plain
            assert [g.form["client_id"] for g in oauth.grants("refresh_token")] == [[ours["client_id"]]]


@pytest.mark.reference
def test_credentials_move_between_the_reference_and_rootstep(
    reference_codex: Path, tmp_path: Path, model: MockModel
) -> None:
    with OAuthTestServer() as oauth:
        plugin = _plugin(tmp_path, oauth)
        selected = [root("oauth-demo@1", EXECUTOR, plugin)]
        ref_home = _executor_home(tmp_path, model, oauth, "ref")
        model.queue(assistant_text("warm"))
        command = [str(reference_codex), "app-server", "--listen", "stdio://"]
        with AppServerProcess(ref_home, command=command, validate=False, env=ENV) as ref:
            ref.initialize(experimental=True)
            thread_id = ref.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selected},
                                 timeout=60)["thread"]["id"]
            assert ref.run_turn(thread_id, "warm")["status"] == "completed"  # starts the plugin's servers
            _, done = _login(ref, {"name": SERVER, "threadId": thread_id})
            assert done["success"] is True
            ref.close()
        written = json.loads((ref_home / ".credentials.json").read_text())
        assert list(written) == [_executor_key(oauth)]  # our key for the reference's entry
        assert written[_executor_key(oauth)]["executor_owned"] is True

        # rootstep uses what 0.169 wrote, without a login.
        our_home = _executor_home(tmp_path, model, oauth, "ours")
        shutil.copy(ref_home / ".credentials.json", our_home / ".credentials.json")
        with checked_app_server(our_home, command=COMMAND, env=EXECUTOR_ENV) as app:
            ours_id = app.call("thread/start", {"selectedCapabilityRoots": selected})["thread"]["id"]
            app.wait_stderr(CONNECTED.format(EXECUTOR), timeout=60)
            assert _status(app, ours_id) == "oAuth"
            assert "ECHOING: from 0.169" in json.dumps(_echo(app, ours_id, "from 0.169"))
            # ...and a fresh rootstep login is what 0.169 then reads.
            (our_home / ".credentials.json").unlink()
            oauth.expire_access_tokens()
            _, done = _login(app, {"name": SERVER, "threadId": ours_id})
            assert done["success"] is True
        shutil.copy(our_home / ".credentials.json", ref_home / ".credentials.json")
        with AppServerProcess(ref_home, command=command, validate=False, env=ENV) as ref:
            ref.initialize(experimental=True)
            thread_id = ref.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selected},
                                 timeout=60)["thread"]["id"]
            listed = ref.call("mcpServerStatus/list", {"threadId": thread_id}, timeout=60)["data"]
            assert next(e for e in listed if e["name"] == SERVER)["authStatus"] == "oAuth"
            ref.close()
