"""The spec's scenario: a server reached from an executor environment whose ``HTTP_PROXY`` applies.

Discovery, registration, the code exchange, the MCP traffic and the refresh all leave from the
executor (ours, and the reference ``codex exec-server`` when installed) through its proxy.
"""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from rootstep.environments import RemoteEnvironment
from rootstep.mcp.oauth import TokenManager, perform_login
from tests.conftest import reference_codex_path
from tests.exec_server.helpers import executor_argv
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.forward_proxy import forward_proxy
from tests.oauth.helpers import complete, http_config, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture(params=["rootstep", "reference"])
def which(request: pytest.FixtureRequest) -> str:
    if request.param == "reference" and reference_codex_path() is None:
        request.getfixturevalue("reference_codex")  # skips with the reason
    return request.param


async def test_login_and_refresh_from_an_executor_behind_its_proxy(which: str, tmp_path) -> None:
    argv = executor_argv(which)
    with OAuthTestServer() as server:
        async with forward_proxy() as proxy:
            proxy_env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "NO_PROXY": "", "no_proxy": ""}
            async with RemoteEnvironment.connect_stdio("exec", argv[0], argv[1:], env=proxy_env) as executor:
                async with executor.http_client() as http:
                    pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                                  settings=settings(tmp_path))
                    result, _ = await complete(pending)
                assert result.success, result.error
                tokens = TokenManager.from_settings(settings(tmp_path))
                server.expire_access_tokens()
                async with executor.http_client(auth=tokens.auth("notes", server.mcp_url)) as http:
                    async with Client(streamable_http_client(server.mcp_url, http_client=http),
                                      mode="legacy") as client:
                        answer = await client.call_tool("echo", {"message": "from the executor"})
    assert answer.content[0].text == "ECHOING: from the executor"  # type: ignore[union-attr]
    base = server.base_url
    assert f"{base}/register" in proxy.seen
    assert proxy.seen.count(f"{base}/token") == 2  # the code exchange and the refresh
    assert f"{base}/mcp" in proxy.seen
    assert [g.status for g in server.grants("refresh_token")] == [200]
