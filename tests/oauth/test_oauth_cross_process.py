"""Two processes refreshing the same credential: the lock file makes it one refresh."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from rootstep.mcp.oauth.locks import locked, refresh_lock_path
from rootstep.mcp.oauth.urls import store_key
from tests.conftest import ROOT, descendants
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import login, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

CHILD = """
import sys, anyio, httpx2
from pathlib import Path
from rootstep.mcp.oauth import OAuthSettings, TokenManager

async def main(home, url, go):
    tokens = TokenManager.from_settings(OAuthSettings(codex_home=Path(home), credentials_store="file"))
    print("ready", flush=True)
    while not Path(go).exists():  # start together
        await anyio.sleep(0.01)
    async with httpx2.AsyncClient(trust_env=False) as http:
        print(await tokens.access_token("notes", url, http), flush=True)

anyio.run(main, *sys.argv[1:4])
"""


async def test_two_processes_spend_the_refresh_token_once(tmp_path) -> None:
    # due for refresh at once; a slow token endpoint makes unguarded refreshes overlap
    with OAuthTestServer(access_token_ttl=10, token_delay=0.5) as server:
        await login(server, tmp_path)
        server.access_token_ttl = 3600
        lock = refresh_lock_path(settings(tmp_path).codex_home, store_key("notes", server.mcp_url))
        before = descendants()
        go = tmp_path / "go"
        with locked(lock):  # both children queue behind the lock, then race for it
            children = [
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, str(tmp_path), server.mcp_url, str(go)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            for child in children:
                assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            go.touch()
            time.sleep(0.5)  # let both reach the lock (only makes the race likelier; never asserted)
        outputs = [child.communicate(timeout=60) for child in children]
        for child, (_, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err
        tokens = {out.strip() for out, _ in outputs}
        assert len(tokens) == 1 and server.valid_access_token(tokens.pop())
        assert [g.status for g in server.grants("refresh_token")] == [200]
        assert descendants() <= before
