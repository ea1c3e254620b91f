"""Shared pieces of the OAuth tests: a "browser" that follows the authorization redirect."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.oauth import LoginResult, OAuthLogin, OAuthSettings, perform_login
from tests.fixtures.oauth_server import OAuthTestServer


def settings(home: Path, **kw: object) -> OAuthSettings:
    return OAuthSettings(codex_home=home, credentials_store="file", **kw)  # type: ignore[arg-type]


def http_config(url: str, **extra: object) -> McpServerConfig:
    return McpServerConfig.from_toml({"url": url, **extra})


async def browse(url: str) -> httpx2.Response:
    """What a browser does with the authorization URL: follow the redirect to the callback."""
    async with httpx2.AsyncClient(trust_env=False, follow_redirects=False) as browser:
        answer = await browser.get(url)
        if answer.status_code in (301, 302, 303, 307, 308):
            return await browser.get(answer.headers["location"])
        return answer


async def complete(login: OAuthLogin) -> tuple[LoginResult, httpx2.Response]:
    """Run ``login.wait()`` while the browser follows the authorization URL."""
    results: list[LoginResult] = []
    async with anyio.create_task_group() as tg:

        async def waiter() -> None:
            results.append(await login.wait())

        tg.start_soon(waiter)
        page = await browse(login.authorization_url)
    return results[0], page


async def login(server: OAuthTestServer, home, **kw) -> None:
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                      settings=settings(home), **kw)
        result, page = await complete(pending)
    assert result.success, result.error
    assert page.status_code == 200
    assert page.text == "Authentication complete. You may close this window."
