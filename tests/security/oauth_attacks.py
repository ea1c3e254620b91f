"""OAuth flows against a hostile authorization server, as a script: ``python -m
tests.security.oauth_attacks SCENARIO`` prints one JSON line with the outcome.

Run by ``test_oauth_responses.py`` in a memory-capped subprocess, so an unbounded read fails
the test instead of filling the machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx2

from rootstep.mcp.oauth import TokenManager, discover, perform_login
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import complete, http_config, login, settings
from tests.oauth.test_oauth_login_flow import call_echo


async def discovery(server: OAuthTestServer, home: Path) -> dict[str, Any]:
    server.endless_paths = ("/.well-known/",)
    async with httpx2.AsyncClient(trust_env=False) as http:
        found = await discover(http, server.mcp_url)
    return {"found": found is not None}


async def registration(server: OAuthTestServer, home: Path) -> dict[str, Any]:
    server.endless_paths = ("/register",)
    async with httpx2.AsyncClient(trust_env=False) as http:
        try:
            await perform_login("notes", http_config(server.mcp_url), http_client=http, settings=settings(home))
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            return {"error": str(exc)}
    return {"error": None}


async def code_exchange(server: OAuthTestServer, home: Path) -> dict[str, Any]:
    server.endless_paths = ("/token",)
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login("notes", http_config(server.mcp_url), http_client=http, settings=settings(home))
        result, _ = await complete(pending)
    return {"success": result.success, "error": result.error}


async def refresh(server: OAuthTestServer, home: Path) -> dict[str, Any]:
    await login(server, home)
    tokens = TokenManager.from_settings(settings(home))
    server.expire_access_tokens()
    server.endless_paths = ("/token",)
    try:
        await call_echo(tokens, server.mcp_url, "after expiry")
        refused = False
    except BaseException:  # noqa: BLE001 - the server's 401 stands, as a group from the SDK
        refused = True
    server.endless_paths = ()
    last_error = tokens.state("notes", server.mcp_url).last_error
    echoed = None
    if refused:  # the refresh token was kept: a well-behaved server refreshes it later
        echoed = await call_echo(tokens, server.mcp_url, "recovered")
    return {"refused": refused, "last_error": last_error, "echoed": echoed}


SCENARIOS = {"discovery": discovery, "registration": registration, "code_exchange": code_exchange, "refresh": refresh}


async def main(name: str) -> None:
    with OAuthTestServer() as server, tempfile.TemporaryDirectory() as home:
        outcome = await SCENARIOS[name](server, Path(home))
    print(json.dumps(outcome))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
