"""Login → authenticated MCP call → expiry → refresh → revoked refresh → needs login, end to end.

A real authorization server and a bearer-protected MCP server (``tests/fixtures/oauth_server.py``)
on 127.0.0.1; the MCP calls go through the SDK's streamable-HTTP client.
"""

from __future__ import annotations

import json
import os
import stat
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from rootstep.mcp.oauth import (
    FileCredentialStore,
    OAuthLoginRequiredError,
    TokenManager,
    auth_status,
    callback_id,
    perform_login,
    store_key,
)
from rootstep.mcp.oauth.store import now_ms
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import complete, http_config, login, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def call_echo(tokens: TokenManager, url: str, message: str) -> str:
    async with httpx2.AsyncClient(trust_env=False, auth=tokens.auth("notes", url)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            result = await client.call_tool("echo", {"message": message})
    assert not result.is_error, result
    return result.content[0].text  # type: ignore[union-attr]


def _leaves(exc: BaseException):
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


async def call_is_refused(tokens: TokenManager, url: str) -> None:
    """The MCP call fails with the server's HTTP error (401), surfaced by the SDK as an MCPError."""
    with pytest.raises(BaseException) as info:
        await call_echo(tokens, url, "refused")
    assert any(isinstance(e, MCPError) and "error response" in str(e) for e in _leaves(info.value)), info.value


async def test_full_lifecycle(server: OAuthTestServer, tmp_path) -> None:
    config = http_config(server.mcp_url)
    store = FileCredentialStore(tmp_path)
    async with httpx2.AsyncClient(trust_env=False) as http:
        assert await auth_status("notes", config, store=store, http_client=http) == "notLoggedIn"

    await login(server, tmp_path)
    async with httpx2.AsyncClient(trust_env=False) as http:
        assert await auth_status("notes", config, store=store, http_client=http) == "oAuth"

    # stored as the spec says: one key, mode 0600, absolute expiry, token endpoint kept
    path = tmp_path / ".credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    entries = json.loads(path.read_text())
    assert list(entries) == [store_key("notes", server.mcp_url)]
    entry = entries[store_key("notes", server.mcp_url)]
    assert entry["server_name"] == "notes" and entry["server_url"] == server.mcp_url
    assert entry["token_endpoint"] == f"{server.base_url}/token"
    assert entry["expires_at"] > 1_000_000_000_000 and entry["refresh_token"]
    assert entry["scopes"] == ["read", "write"]

    tokens = TokenManager.from_settings(settings(tmp_path))
    assert await call_echo(tokens, server.mcp_url, "hi") == "ECHOING: hi"
    assert server.grants("refresh_token") == []

    # the server stops accepting the access token: one refresh on the 401, then it works again
    server.expire_access_tokens()
    assert await call_echo(tokens, server.mcp_url, "again") == "ECHOING: again"
    assert len(server.grants("refresh_token")) == 1
    refreshed = json.loads(path.read_text())[store_key("notes", server.mcp_url)]
    assert refreshed["access_token"] != entry["access_token"]
    assert refreshed["refresh_token"] != entry["refresh_token"]  # rotated, and saved

    # revoked refresh token: the call fails, the refresh is not retried, status says login
    server.revoke_refresh_tokens()
    server.expire_access_tokens()
    await call_is_refused(tokens, server.mcp_url)
    assert len(server.grants("refresh_token")) == 2
    assert tokens.needs_login("notes", server.mcp_url) is not None
    await call_is_refused(tokens, server.mcp_url)
    assert len(server.grants("refresh_token")) == 2  # never spent again
    async with httpx2.AsyncClient(trust_env=False) as http:
        assert await auth_status("notes", config, store=store, http_client=http) == "notLoggedIn"
        with pytest.raises(OAuthLoginRequiredError):
            await tokens.access_token("notes", server.mcp_url, http)
    assert "refresh_token" not in json.loads(path.read_text())[store_key("notes", server.mcp_url)]

    # logging in again is picked up by the same manager, without a restart
    await login(server, tmp_path)
    assert await call_echo(tokens, server.mcp_url, "back") == "ECHOING: back"
    assert tokens.needs_login("notes", server.mcp_url) is None


async def test_proactive_refresh_is_single_flight_across_managers(server: OAuthTestServer, tmp_path) -> None:
    server.access_token_ttl = 10  # inside the 30 s refresh window from the start
    await login(server, tmp_path)
    server.access_token_ttl = 3600
    # two managers stand for two processes reading the same store after a restart
    first = TokenManager.from_settings(settings(tmp_path))
    second = TokenManager.from_settings(settings(tmp_path))
    got: list[str] = []
    async with httpx2.AsyncClient(trust_env=False) as http:

        async def take(manager: TokenManager) -> None:
            got.append(await manager.access_token("notes", server.mcp_url, http))

        async with anyio.create_task_group() as tg:
            for manager in (first, second, first, second):
                tg.start_soon(take, manager)
    assert len(server.grants("refresh_token")) == 1  # (rotating refresh tokens: a second spend would fail)
    assert len(set(got)) == 1 and server.valid_access_token(got[0])
    assert await call_echo(first, server.mcp_url, "fresh") == "ECHOING: fresh"
    assert len(server.grants("refresh_token")) == 1


async def test_authorization_request_and_registration_follow_the_spec(server: OAuthTestServer, tmp_path) -> None:
    config = http_config(server.mcp_url, oauth_resource="https://api.example/extra")
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", config, http_client=http, settings=settings(tmp_path))
        async with pending:
            query = parse_qs(urlsplit(pending.authorization_url).query)
            assert pending.redirect_uri == f"http://127.0.0.1:{pending.callback_port}/callback/{callback_id(server.mcp_url)}"
            assert query["response_type"] == ["code"]
            assert query["code_challenge_method"] == ["S256"]
            assert query["redirect_uri"] == [pending.redirect_uri]
            assert query["resource"] == [server.mcp_url, "https://api.example/extra"]
            assert query["scope"] == ["read write"]  # discovered scopes_supported
            assert server.registrations == [
                {
                    "client_name": "Codex",
                    "redirect_uris": [pending.redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "none",
                    "response_types": ["code"],
                    "scope": "read write",
                    "application_type": "native",
                }
            ]


async def test_explicit_scopes_and_configured_client_id(server: OAuthTestServer, tmp_path) -> None:
    config = http_config(server.mcp_url, oauth={"client_id": "preset-client"}, scopes=["configured"])
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", config, http_client=http, settings=settings(tmp_path),
                                      scopes=["explicit"])
        query = parse_qs(urlsplit(pending.authorization_url).query)
        assert query["client_id"] == ["preset-client"] and query["scope"] == ["explicit"]
        assert server.registrations == []  # a configured client id skips registration
        result, _ = await complete(pending)
    assert result.success, result.error
    code_grant = server.grants("authorization_code")[0].form
    assert code_grant["client_id"] == ["preset-client"]
    assert code_grant["resource"] == [server.mcp_url]
    assert code_grant["redirect_uri"] == [pending.redirect_uri]


async def test_refresh_rediscovers_a_missing_token_endpoint(server: OAuthTestServer, tmp_path) -> None:
    """Entries written by Codex carry no token endpoint: the refresh finds it by discovery."""
    await login(server, tmp_path)
    store = FileCredentialStore(tmp_path)
    stored = await store.load("notes", server.mcp_url)
    assert stored is not None
    await store.save(stored.model_copy(update={"token_endpoint": None}))
    server.expire_access_tokens()
    tokens = TokenManager.from_settings(settings(tmp_path))
    before = len(server.requests)
    assert await call_echo(tokens, server.mcp_url, "rediscovered") == "ECHOING: rediscovered"
    assert len(server.grants("refresh_token")) == 1
    paths = [p for _, p in server.requests[before:]]
    assert "/.well-known/oauth-authorization-server" in paths
    saved = await store.load("notes", server.mcp_url)
    assert saved is not None and saved.token_endpoint == f"{server.base_url}/token"
    # and outside an auth flow, through a plain client
    server.expire_access_tokens()
    await store.save(saved.model_copy(update={"token_endpoint": None, "expires_at": 1}))
    async with httpx2.AsyncClient(trust_env=False) as http:
        token = await TokenManager.from_settings(settings(tmp_path)).access_token("notes", server.mcp_url, http)
    assert server.valid_access_token(token)


async def test_sdk_provider_uses_the_same_credentials(server: OAuthTestServer, tmp_path) -> None:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata, OAuthToken

    from rootstep.mcp.oauth.sdk import SdkTokenStorage

    await login(server, tmp_path)
    store = FileCredentialStore(tmp_path)
    stored = await store.load("notes", server.mcp_url)
    assert stored is not None
    storage = SdkTokenStorage(store, "notes", server.mcp_url)
    provider = OAuthClientProvider(server.mcp_url, OAuthClientMetadata(redirect_uris=["http://127.0.0.1:1/callback"]),
                                   storage)
    async with httpx2.AsyncClient(trust_env=False, auth=provider) as http:
        async with Client(streamable_http_client(server.mcp_url, http_client=http), mode="legacy") as client:
            answer = await client.call_tool("echo", {"message": "sdk"})
    assert answer.content[0].text == "ECHOING: sdk"  # type: ignore[union-attr]
    info = await storage.get_client_info()
    assert info is not None and info.client_id == stored.client_id
    # what the SDK saves after its own refresh lands in the same entry, with absolute expiry
    before = now_ms()
    await storage.set_tokens(OAuthToken(access_token="new-at", expires_in=60))
    after = now_ms()
    renewed = await store.load("notes", server.mcp_url)
    assert renewed is not None and renewed.access_token == "new-at"
    assert renewed.refresh_token == stored.refresh_token and renewed.token_endpoint == stored.token_endpoint
    assert renewed.expires_at is not None and before + 60_000 <= renewed.expires_at <= after + 60_000


async def test_transient_refresh_failure_keeps_the_refresh_token(server: OAuthTestServer, tmp_path) -> None:
    await login(server, tmp_path)
    tokens = TokenManager.from_settings(settings(tmp_path))
    server.expire_access_tokens()
    server.fail_token_requests = 1
    await call_is_refused(tokens, server.mcp_url)
    assert [g.status for g in server.grants("refresh_token")] == [503]
    stored = await FileCredentialStore(tmp_path).load("notes", server.mcp_url)
    assert stored is not None and stored.refresh_token  # kept for the next attempt
    assert await call_echo(tokens, server.mcp_url, "recovered") == "ECHOING: recovered"
    assert [g.status for g in server.grants("refresh_token")] == [503, 200]


async def test_unreadable_store_means_login_required_and_is_left_alone(server: OAuthTestServer, tmp_path) -> None:
    await login(server, tmp_path)
    path = tmp_path / ".credentials.json"
    path.write_text("{broken")
    tokens = TokenManager.from_settings(settings(tmp_path))
    await call_is_refused(tokens, server.mcp_url)
    reason = tokens.needs_login("notes", server.mcp_url)
    assert reason is not None and "failed to parse credentials file" in reason
    assert path.read_text() == "{broken"


async def test_concurrent_401s_share_one_refresh(server: OAuthTestServer, tmp_path) -> None:
    """Many in-flight requests of one process hit 401 with the same token: one refresh serves all."""
    await login(server, tmp_path)
    tokens = TokenManager.from_settings(settings(tmp_path))
    async with httpx2.AsyncClient(trust_env=False, auth=tokens.auth("notes", server.mcp_url)) as http:
        warm = await http.post(server.mcp_url, json={})
        assert warm.status_code != 401
        server.expire_access_tokens()
        statuses: list[int] = []

        async def post() -> None:
            statuses.append((await http.post(server.mcp_url, json={})).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(post)
    assert 401 not in statuses and len(statuses) == 5
    assert [g.status for g in server.grants("refresh_token")] == [200]
    assert tokens.needs_login("notes", server.mcp_url) is None
