"""Bad input and hostile callbacks: rejected clearly, no token request, nothing leaks."""

from __future__ import annotations

import logging
import socket

import anyio
import httpx2
import psutil
import pytest

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.oauth import (
    OAuthLoginError,
    OAuthUnsupportedServerError,
    TokenManager,
    perform_login,
)
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse, complete, http_config, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _listening(port: int) -> list[str]:
    return [c.laddr.ip for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_wrong_or_missing_state_is_rejected_without_a_token_request(server: OAuthTestServer, tmp_path) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(tmp_path))
        assert _listening(pending.callback_port) == ["127.0.0.1"]  # loopback only
        base = pending.redirect_uri
        results = []
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                results.append(await pending.wait())

            tg.start_soon(waiter)
            async with httpx2.AsyncClient(trust_env=False) as attacker:
                for bad in (f"{base}?code=stolen&state=wrong", f"{base}?code=stolen", f"{base}?state=x", base,
                            f"{base}x?code=c&state=s"):
                    answer = await attacker.get(bad)
                    assert (answer.status_code, answer.text) == (400, "Invalid OAuth callback")
                answer = await attacker.post(f"{base}?code=c&state=s")
                assert answer.status_code == 400
            assert server.grants("authorization_code") == []
            page = await browse(pending.authorization_url)  # the real redirect still completes
        assert page.status_code == 200
        assert results[0].success, results[0].error
        assert len(server.grants("authorization_code")) == 1
        assert _refused(pending.callback_port)  # closed after completion


async def test_provider_error_redirect_fails_the_login(tmp_path) -> None:
    with OAuthTestServer(authorize_error=("access_denied", "user said no")) as server:
        async with httpx2.AsyncClient(trust_env=False) as http:
            pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                          settings=settings(tmp_path))
            result, page = await complete(pending)
    assert (page.status_code, page.text) == (400, "OAuth provider returned `access_denied`: user said no")
    assert (result.success, result.error) == (False, "OAuth provider returned `access_denied`: user said no")
    assert server.token_requests == []
    assert not (tmp_path / ".credentials.json").exists()


async def test_timeout_fails_and_closes_the_listener(server: OAuthTestServer, tmp_path) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(tmp_path), timeout_secs=1)
        result = await pending.wait()
    assert (result.success, result.error) == (False, "timed out waiting for OAuth callback")
    assert _refused(pending.callback_port)
    assert await pending.wait() == result  # the outcome is kept


async def test_abandoned_login_reports_cancellation(server: OAuthTestServer, tmp_path) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(tmp_path))
        results = []
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                results.append(await pending.wait())

            tg.start_soon(waiter)
            await anyio.sleep(0)
            await pending.aclose()
    assert (results[0].success, results[0].error) == (False, "OAuth login was cancelled")
    assert _refused(pending.callback_port)


async def test_fixed_callback_port_and_callback_url(server: OAuthTestServer, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    custom = settings(tmp_path, callback_port=port, callback_url=f"http://localhost:{port}/oauth/done")
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http, settings=custom)
        assert pending.callback_port == port
        assert pending.redirect_uri.startswith(f"http://localhost:{port}/oauth/done/")
        result, page = await complete(pending)
    assert result.success, result.error


async def test_setup_errors_are_clear(server: OAuthTestServer, tmp_path) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        with pytest.raises(OAuthUnsupportedServerError, match="only supported for streamable HTTP"):
            await perform_login("s", McpServerConfig.from_toml({"command": "x"}), http_client=http,
                                settings=settings(tmp_path))
        with pytest.raises(OAuthLoginError,
                           match="invalid MCP OAuth callback port `0`: port must be between 1 and 65535"):
            await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                settings=settings(tmp_path, callback_port=0))
        with OAuthTestServer(serve_prm=False, serve_asm=False) as plain:
            with pytest.raises(OAuthLoginError, match="no OAuth authorization server metadata found"):
                await perform_login("plain", http_config(plain.mcp_url), http_client=http, settings=settings(tmp_path))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead = probe.getsockname()[1]
        with pytest.raises(OAuthLoginError, match="OAuth discovery failed: ConnectError"):
            await perform_login("dead", http_config(f"http://127.0.0.1:{dead}/mcp"), http_client=http,
                                settings=settings(tmp_path))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"issuer": "http://evil.example"}, "issuer `http://evil.example` does not match"),
        ({"token_endpoint": "http://127.0.0.2:9/token"},
         "token endpoint origin does not match the authorization server origin"),
        ({"registration_endpoint": None}, "Dynamic client registration not supported"),
        ({"response_types_supported": ["token"]}, "does not support the `code` response type"),
    ],
)
async def test_untrustworthy_metadata_is_refused(tmp_path, overrides, message) -> None:
    with OAuthTestServer(metadata_overrides=overrides) as server:
        async with httpx2.AsyncClient(trust_env=False) as http:
            with pytest.raises(OAuthLoginError, match=message):
                await perform_login("notes", http_config(server.mcp_url), http_client=http, settings=settings(tmp_path))
        assert server.token_requests == []


async def test_discovery_order_without_protected_resource_metadata(tmp_path) -> None:
    with OAuthTestServer(serve_prm=False) as server:
        async with httpx2.AsyncClient(trust_env=False) as http:
            pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                          settings=settings(tmp_path))
            await pending.aclose()
        gets = [path for method, path in server.requests if method == "GET"]
    # the 0.169 sequence (spec §7.2): server URL, three protected-resource forms, path-inserted AS form
    assert gets == [
        "/mcp",
        "/.well-known/oauth-protected-resource/mcp",
        "/mcp/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server/mcp",
    ]


async def test_tokens_and_codes_never_reach_the_logs(server: OAuthTestServer, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(tmp_path))
        result, _ = await complete(pending)
        assert result.success
        tokens = TokenManager.from_settings(settings(tmp_path))
        server.expire_access_tokens()
        auth = tokens.auth("notes", server.mcp_url)
        assert (await http.post(server.mcp_url, json={}, auth=auth)).status_code != 401
        server.revoke_refresh_tokens()
        server.expire_access_tokens()
        assert (await http.post(server.mcp_url, json={}, auth=auth)).status_code == 401
    secrets_seen = set()
    for grant in server.token_requests:
        for name in ("code", "code_verifier", "refresh_token"):
            secrets_seen.update(grant.form.get(name, []))
    secrets_seen.update(server._access)  # every access token issued
    ours = [r for r in caplog.records if "/callback/" not in r.getMessage()]  # the test browser's own request line
    assert ours and secrets_seen
    for record in ours:
        text = record.getMessage()
        assert not any(secret in text for secret in secrets_seen), record.name


async def test_callback_naming_another_issuer_is_refused(server: OAuthTestServer, tmp_path) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(tmp_path))
        results = []
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                results.append(await pending.wait())

            tg.start_soon(waiter)
            async with httpx2.AsyncClient(trust_env=False, follow_redirects=False) as browser:
                redirect = (await browser.get(pending.authorization_url)).headers["location"]
                page = await browser.get(redirect + "&iss=http%3A%2F%2Fevil.example")
    assert page.status_code == 400 and "iss mismatch" in page.text
    assert not results[0].success and "iss mismatch" in (results[0].error or "")
    assert server.grants("authorization_code") == []
