"""codex 0.169's ``clientRegistration`` (auto | cimd | dcr) against the real loopback auth server.

The server (``OAuthTestServer(cimd_supported=...)``) records dynamic registrations and the URL
client ids it sees; a login is completed by the test's "browser", so the client id must also
survive the code exchange and a refresh. The reference half runs ``codex mcp login
--oauth-client-registration`` against the same server and checks it chose the same client.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthMetadata

from rootstep.mcp.oauth import (
    FileCredentialStore,
    OAuthLoginError,
    TokenManager,
    callback_id,
    client_metadata_url,
    perform_login,
)
from rootstep.mcp.oauth.registration import choose_client, is_ephemeral_loopback_callback
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse, complete, http_config, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

CIMD_ERROR = "MCP authorization server does not advertise CIMD with token endpoint auth method `none`"


async def _login(server: OAuthTestServer, home: Path, registration: str | None, **config: object) -> str:
    """Log in through the whole flow; returns the client id the authorization URL carried."""
    async with httpx2.AsyncClient(trust_env=False) as http:
        pending = await perform_login(
            "notes", http_config(server.mcp_url, **config), http_client=http, settings=settings(home),
            client_registration=registration,  # type: ignore[arg-type]
        )
        client_id = parse_qs(urlsplit(pending.authorization_url).query)["client_id"][0]
        result, page = await complete(pending)
    assert result.success, result.error
    assert page.status_code == 200
    return client_id


async def _stored_client_id(home: Path, server: OAuthTestServer) -> str:
    stored = await FileCredentialStore(home).load("notes", server.mcp_url)
    assert stored is not None
    return stored.client_id


async def test_cimd_sends_the_url_client_id_and_the_tokens_work(tmp_path: Path) -> None:
    with OAuthTestServer(cimd_supported=True) as server:
        client_id = await _login(server, tmp_path, "cimd")
        document = f"https://chatgpt.com/oauth/codex/{callback_id(server.mcp_url)}/client.json"
        assert client_id == document == client_metadata_url(server.mcp_url)
        assert server.registrations == []  # no dynamic registration
        assert server.url_client_ids == [document]  # the authorization server saw the URL id
        assert [g.form["client_id"] for g in server.grants("authorization_code")] == [[document]]
        assert await _stored_client_id(tmp_path, server) == document

        # The stored CIMD client refreshes and authorizes MCP traffic like any other.
        server.expire_access_tokens()
        tokens = TokenManager.from_settings(settings(tmp_path))
        async with httpx2.AsyncClient(trust_env=False, auth=tokens.auth("notes", server.mcp_url)) as http:
            async with Client(streamable_http_client(server.mcp_url, http_client=http), mode="legacy") as client:
                answer = await client.call_tool("echo", {"message": "cimd"})
        assert answer.content[0].text == "ECHOING: cimd"  # type: ignore[union-attr]
        refreshes = server.grants("refresh_token")
        assert [(g.status, g.form["client_id"]) for g in refreshes] == [(200, [document])]


async def test_dcr_registers_even_when_cimd_is_advertised(tmp_path: Path) -> None:
    with OAuthTestServer(cimd_supported=True) as server:
        client_id = await _login(server, tmp_path, "dcr")
        assert client_id == "client-1" and len(server.registrations) == 1
        assert server.url_client_ids == []
        assert await _stored_client_id(tmp_path, server) == "client-1"


@pytest.mark.parametrize("registration", ["auto", None], ids=["auto", "omitted"])
@pytest.mark.parametrize("advertised", [True, False], ids=["cimd-advertised", "cimd-not-advertised"])
async def test_auto_picks_cimd_when_advertised_and_dcr_otherwise(
    tmp_path: Path, registration: str | None, advertised: bool
) -> None:
    with OAuthTestServer(cimd_supported=advertised) as server:
        client_id = await _login(server, tmp_path, registration)
        if advertised:
            assert client_id == client_metadata_url(server.mcp_url) and server.registrations == []
        else:
            assert client_id == "client-1" and len(server.registrations) == 1


@pytest.mark.parametrize(
    "overrides",
    [{}, {"token_endpoint_auth_methods_supported": ["client_secret_basic"]}],
    ids=["not-advertised", "no-public-client-auth"],
)
async def test_cimd_fails_clearly_when_the_server_cannot_take_it(tmp_path: Path, overrides: dict) -> None:
    advertised = bool(overrides)
    with OAuthTestServer(cimd_supported=advertised, metadata_overrides=overrides) as server:
        async with httpx2.AsyncClient(trust_env=False) as http:
            with pytest.raises(OAuthLoginError) as caught:
                await perform_login(
                    "notes", http_config(server.mcp_url), http_client=http, settings=settings(tmp_path),
                    client_registration="cimd",
                )
        assert str(caught.value) == CIMD_ERROR
        assert server.registrations == [] and server.authorize_requests == []
    assert not (tmp_path / ".credentials.json").exists()


async def test_cimd_needs_the_ephemeral_loopback_callback(tmp_path: Path) -> None:
    """A configured public callback URL cannot be listed in the hosted client document."""
    with OAuthTestServer(cimd_supported=True) as server:
        async with httpx2.AsyncClient(trust_env=False) as http:
            with pytest.raises(OAuthLoginError) as caught:
                await perform_login(
                    "notes", http_config(server.mcp_url), http_client=http,
                    settings=settings(tmp_path, callback_url="https://example.com/cb"), client_registration="cimd",
                )
            assert str(caught.value) == (
                f"MCP OAuth CIMD requires an ephemeral loopback callback at `/callback/{callback_id(server.mcp_url)}`")
            # `auto` falls back to registration there
            pending = await perform_login(
                "notes", http_config(server.mcp_url), http_client=http,
                settings=settings(tmp_path, callback_url="https://example.com/cb"), client_registration="auto",
            )
            await pending.aclose()
        assert len(server.registrations) == 1


@pytest.mark.parametrize("advertised", [True, False])
async def test_a_configured_client_id_wins_over_every_strategy(tmp_path: Path, advertised: bool) -> None:
    with OAuthTestServer(cimd_supported=advertised) as server:
        client_id = await _login(server, tmp_path, "cimd", oauth={"client_id": "preset-client"})
        assert client_id == "preset-client"
        assert server.registrations == [] and server.url_client_ids == []


def test_decisions_are_pure() -> None:
    url = "http://mcp.example/mcp"
    cid = callback_id(url)
    metadata = OAuthMetadata.model_validate({
        "issuer": "http://mcp.example",
        "authorization_endpoint": "http://mcp.example/authorize",
        "token_endpoint": "http://mcp.example/token",
        "token_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": True,
    })
    loopback = f"http://127.0.0.1:4242/callback/{cid}"
    assert is_ephemeral_loopback_callback(loopback, url)
    assert not is_ephemeral_loopback_callback(f"http://localhost:4242/callback/{cid}", url)
    assert not is_ephemeral_loopback_callback("http://127.0.0.1:4242/callback/other", url)
    choice = choose_client(None, configured_client_id=None, metadata=metadata, redirect=loopback, server_url=url)
    assert (choice.source, choice.client_id) == ("cimd", client_metadata_url(url))
    chosen = choose_client("dcr", configured_client_id=None, metadata=metadata, redirect=loopback, server_url=url)
    assert chosen.source == "dcr"
    chosen = choose_client("cimd", configured_client_id="  id  ", metadata=metadata, redirect=loopback, server_url=url)
    assert chosen.client_id == "id"
    plain = metadata.model_copy(update={"client_id_metadata_document_supported": None})
    chosen = choose_client("auto", configured_client_id=" ", metadata=plain, redirect=loopback, server_url=url)
    assert chosen.source == "dcr"


# --- the reference -------------------------------------------------------------------------

URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/authorize\S*)")


async def _reference_login(codex: Path, home: Path, server: OAuthTestServer, registration: str) -> tuple[int, str]:
    """``codex mcp login notes --oauth-client-registration X``: (exit code, stderr)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'mcp_oauth_credentials_store = "file"\n[mcp_servers.notes]\nurl = "{server.mcp_url}"\n')
    env = {**os.environ, "CODEX_HOME": str(home), "BROWSER": "true"}
    argv = [str(codex), "mcp", "login", "notes", "--oauth-client-registration", registration]
    async with await anyio.open_process(argv, env=env) as process:
        assert process.stdout is not None and process.stderr is not None
        seen, errors = b"", b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                seen += chunk
                if URL_LINE.search(seen.decode(errors="replace")):
                    break
        url = URL_LINE.search(seen.decode(errors="replace"))
        if url is not None:
            assert (await browse(url.group(1))).status_code == 200
        with anyio.fail_after(30):
            async for chunk in process.stderr:
                errors += chunk
            code = await process.wait()
    return code, errors.decode(errors="replace")


@pytest.mark.reference
@pytest.mark.parametrize(
    ("advertised", "registration"),
    [(True, "cimd"), (True, "auto"), (True, "dcr"), (False, "auto"), (False, "cimd")],
)
async def test_the_same_client_as_the_reference(
    reference_codex: Path, tmp_path: Path, advertised: bool, registration: str
) -> None:
    with OAuthTestServer(cimd_supported=advertised) as server:
        code, errors = await _reference_login(reference_codex, tmp_path / "ref", server, registration)
        theirs = (len(server.registrations), list(server.url_client_ids))
        if code != 0:
            assert CIMD_ERROR in errors
        server.registrations.clear()
        server.url_client_ids.clear()
        try:
            await _login(server, tmp_path / "ours", registration)
            ours_failed = False
        except OAuthLoginError as exc:
            assert str(exc) == CIMD_ERROR
            ours_failed = True
        assert ours_failed == (code != 0)
        assert (len(server.registrations), list(server.url_client_ids)) == theirs
        if code == 0:
            theirs_id = await _stored_client_id(tmp_path / "ref", server)
            ours_id = await _stored_client_id(tmp_path / "ours", server)
            if registration != "dcr" and advertised:
                assert ours_id == theirs_id == client_metadata_url(server.mcp_url)  # the same document URL
            else:
                assert {theirs_id, ours_id} == {"client-1", "client-2"}  # each registered its own
