"""``rootstep mcp login NAME`` / ``logout NAME`` as a user runs them: a subprocess that prints the
authorization URL and waits; the test's "browser" (httpx2) follows it to the loopback callback."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from tests.conftest import descendants
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse

pytestmark = pytest.mark.timeout(60)

FILE_STORE = 'mcp_oauth_credentials_store="file"'


def _config(home: Path, oauth: OAuthTestServer) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[mcp_servers.notes]\nurl = "{oauth.mcp_url}"\n\n[mcp_servers.local]\ncommand = "true"\n'
    )


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CODEX_HOME": str(home), "NO_PROXY": "127.0.0.1"}


def _spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rootstep", "-c", FILE_STORE, "mcp", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(home),
    )


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rootstep", "-c", FILE_STORE, "mcp", *args],
        capture_output=True, text=True, env=_env(home), timeout=30,
    )


def _read_url(proc: subprocess.Popen[str]) -> str:
    """The CLI's first lines: the prompt, then the URL (waits for them; fails on an early exit)."""
    assert proc.stdout is not None
    first = proc.stdout.readline()
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"no authorization URL: {first!r} {url!r}\nstderr: {stderr}")
    assert "Authorize `notes`" in first
    return url


def test_login_stores_tokens_and_logout_removes_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    before = descendants()
    with OAuthTestServer() as oauth:
        _config(home, oauth)
        proc = _spawn(home, "login", "notes", "--scopes", "read, write")
        url = _read_url(proc)
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{oauth.base_url}/authorize?")
        assert query["scope"] == ["read write"] and query["resource"] == [oauth.mcp_url]
        assert query["code_challenge_method"] == ["S256"]
        page = anyio.run(browse, url)
        assert page.status_code == 200 and page.text == "Authentication complete. You may close this window."
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Successfully logged in to MCP server 'notes'." in out
        # Stored in CODEX_HOME/.credentials.json, owner-only, and the token works on the server.
        path = home / ".credentials.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        [entry] = json.loads(path.read_text()).values()
        assert entry["server_name"] == "notes" and entry["server_url"] == oauth.mcp_url
        assert oauth.valid_access_token(entry["access_token"])
        # Tokens and codes never reach the terminal.
        assert entry["access_token"] not in out + err and entry["refresh_token"] not in out + err

        done = _run(home, "logout", "notes")
        assert done.returncode == 0, done.stderr
        assert "Removed OAuth credentials for 'notes'." in done.stdout
        assert not path.exists()  # the last entry gone: the file is deleted
        again = _run(home, "logout", "notes")
        assert again.returncode == 1 and "No OAuth credentials stored for server 'notes'." in again.stderr
    assert not (descendants() - before)


def test_login_reports_a_provider_refusal_with_exit_code_1(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with OAuthTestServer(authorize_error=("access_denied", "the user said no")) as oauth:
        _config(home, oauth)
        proc = _spawn(home, "login", "notes")
        url = _read_url(proc)
        page = anyio.run(browse, url)
        assert page.status_code == 400
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert "OAuth provider returned `access_denied`: the user said no" in err
        assert "Successfully" not in out
        assert not oauth.grants("authorization_code")
    assert not (home / ".credentials.json").exists()


def test_login_times_out_with_exit_code_1_and_closes_the_callback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with OAuthTestServer() as oauth:
        _config(home, oauth)
        proc = _spawn(home, "login", "notes", "--timeout", "1")
        url = _read_url(proc)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "timed out waiting for OAuth callback" in err
        # Nobody listens any more: the browser's redirect cannot reach a stale login.
        with pytest.raises(httpx2.ConnectError):
            anyio.run(browse, url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("login", "missing"), "No MCP server named 'missing' found."),
        (("login", "local"), "OAuth login is only supported for streamable HTTP servers."),
        (("logout", "local"), "OAuth login is only supported for streamable HTTP servers."),
    ],
)
def test_login_and_logout_refuse_unknown_or_stdio_servers(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    home = tmp_path / "home"
    with OAuthTestServer() as oauth:
        _config(home, oauth)
        done = _run(home, *args)
    assert done.returncode == 1 and message in done.stderr
    assert not oauth.registrations


def test_login_listens_on_the_configured_callback_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with OAuthTestServer() as oauth:
        _config(home, oauth)
        proc = subprocess.Popen(
            [sys.executable, "-m", "rootstep", "-c", FILE_STORE, "-c", f"mcp_oauth_callback_port={port}",
             "mcp", "login", "notes"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(home),
        )
        url = _read_url(proc)
        redirect = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0])
        assert (redirect.hostname, redirect.port) == ("127.0.0.1", port)
        assert redirect.path.startswith("/callback/")
        assert anyio.run(browse, url).status_code == 200
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    assert oauth.registrations[0]["redirect_uris"] == [redirect.geturl()]
