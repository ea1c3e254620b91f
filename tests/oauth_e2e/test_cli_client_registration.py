"""``rootstep mcp login NAME --oauth-client-registration auto|cimd|dcr`` (the reference CLI's
0.169 option), run as a user runs it against the loopback auth server."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest

from rootstep.mcp.oauth import client_metadata_url
from tests.conftest import descendants
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import browse
from tests.oauth_e2e.test_cli_login import _config, _read_url, _run, _spawn

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("registration", ["cimd", "CIMD", "dcr"])
def test_the_option_picks_the_client(tmp_path: Path, registration: str) -> None:
    home = tmp_path / "home"
    before = descendants()
    with OAuthTestServer(cimd_supported=True) as oauth:
        _config(home, oauth)
        proc = _spawn(home, "login", "notes", "--oauth-client-registration", registration)
        url = _read_url(proc)
        client_id = parse_qs(urlsplit(url).query)["client_id"][0]
        assert anyio.run(browse, url).status_code == 200
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        stored = json.loads((home / ".credentials.json").read_text())
        if registration.lower() == "cimd":
            assert client_id == client_metadata_url(oauth.mcp_url) and oauth.registrations == []
        else:
            assert client_id == "client-1" and len(oauth.registrations) == 1
        assert [e["client_id"] for e in stored.values()] == [client_id]
    assert not (descendants() - before)


def test_cimd_on_a_server_without_it_fails_with_the_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with OAuthTestServer() as oauth:
        _config(home, oauth)
        done = _run(home, "login", "notes", "--oauth-client-registration", "cimd")
        assert done.returncode == 1
        assert (
            "failed to login to MCP server 'notes': "
            "MCP authorization server does not advertise CIMD with token endpoint auth method `none`"
        ) in done.stderr
        assert oauth.registrations == [] and not (home / ".credentials.json").exists()
        bad = _run(home, "login", "notes", "--oauth-client-registration", "magic")
        assert bad.returncode == 2 and "invalid choice" in bad.stderr
