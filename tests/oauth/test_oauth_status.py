"""``authStatus`` per server (spec §7.3): config first, stored tokens next, discovery last."""

from __future__ import annotations

import socket

import httpx2
import pytest

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.oauth import FileCredentialStore, StoredCredentials, auth_status
from rootstep.mcp.oauth.store import now_ms
from tests.fixtures.oauth_server import OAuthTestServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def status(config: McpServerConfig, store: FileCredentialStore, environ: dict[str, str] | None = None) -> str:
    async with httpx2.AsyncClient(trust_env=False) as http:
        return await auth_status("s", config, store=store, http_client=http, environ=environ or {})


async def test_status_from_configuration(tmp_path) -> None:
    store = FileCredentialStore(tmp_path)
    url = "http://127.0.0.1:9/mcp"
    assert await status(McpServerConfig.from_toml({"command": "x"}), store) == "unsupported"
    assert await status(McpServerConfig.from_toml({"url": url, "enabled": False}), store) == "unsupported"
    bearer_env = McpServerConfig.from_toml({"url": url, "bearer_token_env_var": "TOKEN"})
    assert await status(bearer_env, store) == "bearerToken"
    bearer_header = McpServerConfig.from_toml({"url": url, "http_headers": {"authorization": "Bearer x"}})
    assert await status(bearer_header, store) == "bearerToken"
    by_env = McpServerConfig.from_toml({"url": url, "env_http_headers": {"Authorization": "AUTH_VAR"}})
    assert await status(by_env, store, {"AUTH_VAR": "Bearer x"}) == "bearerToken"
    with socket.socket() as probe:  # nothing listens: discovery fails -> unsupported
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/mcp"
    assert await status(by_env, store, {"AUTH_VAR": " "}) == "unsupported"
    assert await status(McpServerConfig.from_toml({"url": dead}), store) == "unsupported"


async def test_status_from_stored_tokens_and_discovery(tmp_path) -> None:
    store = FileCredentialStore(tmp_path)
    with OAuthTestServer() as server, OAuthTestServer(serve_prm=False, serve_asm=False) as plain:
        config = McpServerConfig.from_toml({"url": server.mcp_url})
        assert await status(config, store) == "notLoggedIn"
        assert await status(McpServerConfig.from_toml({"url": plain.mcp_url}), store) == "unsupported"
        base = dict(server_name="s", server_url=server.mcp_url, client_id="c", access_token="a")
        await store.save(StoredCredentials(**base, expires_at=now_ms() + 3_600_000))
        assert await status(config, store) == "oAuth"
        await store.save(StoredCredentials(**base, expires_at=now_ms() - 1, refresh_token="r"))
        assert await status(config, store) == "oAuth"  # refreshable
        await store.save(StoredCredentials(**base, expires_at=now_ms() - 1))
        assert await status(config, store) == "notLoggedIn"  # stored but unusable


def test_auth_lookup_leaves_configured_bearers_alone(tmp_path) -> None:
    from rootstep.config.mcp_servers import HttpTransport
    from rootstep.mcp.oauth import OAuthBearerAuth, TokenManager

    tokens = TokenManager(FileCredentialStore(tmp_path))

    def transport(**extra: object) -> HttpTransport:
        t = McpServerConfig.from_toml({"url": "http://h/mcp", **extra}).transport
        assert isinstance(t, HttpTransport)
        return t

    assert isinstance(tokens.auth_lookup("s", transport()), OAuthBearerAuth)
    assert tokens.auth_lookup("s", transport(bearer_token_env_var="T")) is None
    assert tokens.auth_lookup("s", transport(http_headers={"Authorization": "Bearer x"})) is None
    assert tokens.auth_lookup("s", transport(auth="chatgpt")) is None
