"""Every OAuth request (discovery, registration, token, refresh) and the MCP traffic go through
the HTTP client the caller gives — here one that honours ``HTTP_PROXY`` — never around it."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from rootstep.mcp.oauth import TokenManager, perform_login
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.forward_proxy import forward_proxy
from tests.oauth.helpers import complete, http_config, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_login_call_and_refresh_through_http_proxy(tmp_path, monkeypatch) -> None:
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    with OAuthTestServer() as server:
        async with forward_proxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            async with httpx2.AsyncClient() as http:  # trust_env: the environment's proxy applies
                pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                              settings=settings(tmp_path))
                result, _ = await complete(pending)  # the browser reaches the loopback callback directly
                assert result.success, result.error
            tokens = TokenManager.from_settings(settings(tmp_path))
            server.expire_access_tokens()
            async with httpx2.AsyncClient(auth=tokens.auth("notes", server.mcp_url)) as http:
                async with Client(streamable_http_client(server.mcp_url, http_client=http), mode="legacy") as client:
                    answer = await client.call_tool("echo", {"message": "via proxy"})
            assert answer.content[0].text == "ECHOING: via proxy"  # type: ignore[union-attr]
    base = server.base_url
    assert f"{base}/.well-known/oauth-protected-resource/mcp" in proxy.seen
    assert f"{base}/.well-known/oauth-authorization-server" in proxy.seen
    assert f"{base}/register" in proxy.seen
    assert proxy.seen.count(f"{base}/token") == 2  # code exchange, then the refresh after the 401
    assert f"{base}/mcp" in proxy.seen
    assert len(server.grants("refresh_token")) == 1
