"""Differential: the reference ``codex mcp login`` (0.169) and rootstep against the same server.

Same discovery sequence, registration body, authorization parameters, token request and
credentials entry; and tokens the reference stored are used and refreshed by rootstep.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from rootstep.mcp.oauth import FileCredentialStore, TokenManager, callback_id, perform_login, store_key
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse, complete, http_config, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120), pytest.mark.reference]

URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/authorize\S*)")


def snapshot(server: OAuthTestServer) -> dict:
    """What one login did at the server; the records are cleared for the next login."""
    with server._lock:
        taken = {
            "gets": [p for m, p in server.requests if m == "GET" and p != "/authorize"],  # not the browser
            "registrations": list(server.registrations),
            "authorize": list(server.authorize_requests),
            "token": [t.form for t in server.token_requests],
        }
        server.requests.clear()
        server.registrations.clear()
        server.authorize_requests.clear()
        server.token_requests.clear()
    return taken


async def reference_login(codex: Path, home: Path, server: OAuthTestServer) -> None:
    (home / "config.toml").write_text(
        f'mcp_oauth_credentials_store = "file"\n[mcp_servers.notes]\nurl = "{server.mcp_url}"\n')
    env = {**os.environ, "CODEX_HOME": str(home), "BROWSER": "true"}
    async with await anyio.open_process([str(codex), "mcp", "login", "notes"], env=env) as process:
        assert process.stdout is not None
        seen = b""
        with anyio.fail_after(30):
            while not URL_LINE.search(seen.decode(errors="replace")):
                seen += await process.stdout.receive()
        url = URL_LINE.search(seen.decode())
        assert url is not None
        page = await browse(url.group(1))
        assert page.text == "Authentication complete. You may close this window."
        with anyio.fail_after(30):
            assert await process.wait() == 0


def _authorize_shape(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    volatile = {"client_id", "state", "code_challenge", "redirect_uri"}
    return [(k, "" if k in volatile else v[0]) for k, v in params.items()]


@pytest.mark.parametrize("serve_prm", [False, True], ids=["well-known-only", "protected-resource"])
async def test_login_matches_the_reference(reference_codex: Path, tmp_path: Path, serve_prm: bool) -> None:
    ref_home, our_home = tmp_path / "ref", tmp_path / "ours"
    ref_home.mkdir()
    our_home.mkdir()
    with OAuthTestServer(serve_prm=serve_prm) as server:
        await reference_login(reference_codex, ref_home, server)
        theirs = snapshot(server)
        async with httpx2.AsyncClient(trust_env=False) as http:
            pending = await perform_login("notes", http_config(server.mcp_url), http_client=http,
                                          settings=settings(our_home))
            result, _ = await complete(pending)
        assert result.success, result.error
        ours = snapshot(server)

        # discovery: the reference runs it twice (support check, then the flow); the sequence is the same
        assert theirs["gets"][: len(ours["gets"])] == ours["gets"]
        # registration body, but for the callback port
        for body in (theirs["registrations"][0], ours["registrations"][0]):
            redirect = body.pop("redirect_uris")
            assert [urlsplit(r).path for r in redirect] == [f"/callback/{callback_id(server.mcp_url)}"]
        assert ours["registrations"] == theirs["registrations"]
        assert [_authorize_shape(a) for a in ours["authorize"]] == [_authorize_shape(a) for a in theirs["authorize"]]
        assert sorted(ours["token"][0]) == sorted(theirs["token"][0])
        assert ours["token"][0]["resource"] == theirs["token"][0]["resource"] == [server.mcp_url]

        # credentials: same key and fields (we add the token endpoint)
        ref_entry = (await FileCredentialStore(ref_home).load("notes", server.mcp_url))
        our_entry = (await FileCredentialStore(our_home).load("notes", server.mcp_url))
        assert ref_entry is not None and our_entry is not None
        ref_fields = set(ref_entry.model_dump(exclude_none=True))
        expected = {"server_name", "server_url", "client_id", "access_token", "expires_at", "refresh_token", "scopes"}
        assert ref_fields == expected | ({"issuer"} if serve_prm else set())  # the metadata declares one there
        assert set(our_entry.model_dump(exclude_none=True)) == ref_fields | {"token_endpoint"}
        assert our_entry.issuer == ref_entry.issuer
        assert (ref_home / ".credentials.json").read_text().startswith(f'{{"{store_key("notes", server.mcp_url)}"')
        assert ref_entry.scopes == our_entry.scopes

        # the reference's tokens work here, and refresh (no token endpoint stored: rediscovered)
        server.expire_access_tokens()
        tokens = TokenManager.from_settings(settings(ref_home))
        async with httpx2.AsyncClient(trust_env=False, auth=tokens.auth("notes", server.mcp_url)) as http:
            async with Client(streamable_http_client(server.mcp_url, http_client=http), mode="legacy") as client:
                answer = await client.call_tool("echo", {"message": "shared"})
        assert answer.content[0].text == "ECHOING: shared"  # type: ignore[union-attr]
        assert [g.status for g in server.grants("refresh_token")] == [200]
