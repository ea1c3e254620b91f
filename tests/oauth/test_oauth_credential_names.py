"""Executor-namespaced credential names (codex 0.169): the name, the key, both stores, the status.

The literal names and keys below were read from a ``.credentials.json`` the 0.169 app-server
wrote for the plugin server ``executor_oauth`` of environment ``executor-1``
(``tests/oauth_e2e/test_oauth_0169_additions.py`` checks it against the binary).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from rootstep.mcp.credential_names import split_credential_name
from rootstep.mcp.oauth import (
    FileCredentialStore,
    KeyringCredentialStore,
    StoredCredentials,
    TokenManager,
    credential_name,
    display_name,
    is_executor_owned,
    perform_login,
    store_key,
)
from rootstep.mcp.oauth.status import auth_status_before_discovery
from tests.fixtures.oauth_server import OAuthTestServer
from tests.oauth.helpers import complete, http_config, settings
from tests.oauth.test_oauth_store import MemoryKeyring, memory_keyring  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

URL = "http://oauth-only.invalid/oauth-mcp"
NAME = "executor:ZXhlY3V0b3ItMQ:ZXhlY3V0b3Jfb2F1dGg"


def test_names_and_keys() -> None:
    assert credential_name("executor_oauth", "executor-1") == NAME
    assert credential_name("executor_oauth", "local") == credential_name("executor_oauth") == "executor_oauth"
    assert split_credential_name(NAME) == ("executor_oauth", "executor-1")
    assert display_name(NAME) == "executor_oauth" and is_executor_owned(NAME)
    # a local server whose own name merely looks namespaced stays a plain, local name
    assert not is_executor_owned("executor:not base64!:x") and display_name("executor:a") == "executor:a"
    assert split_credential_name(credential_name("a:b", "env:1")) == ("a:b", "env:1")
    # 0.169 joins an executor name and the URL hash with `:`, a plain name with `|`
    assert store_key("notes", URL) == "notes|d0ff4a8aecea8f7a"
    assert store_key(NAME, URL) == f"{NAME}:d0ff4a8aecea8f7a"


def _entry(name: str) -> StoredCredentials:
    return StoredCredentials(server_name=name, server_url=URL, client_id="c", access_token="AT", refresh_token="RT",
                             executor_owned=True)


async def test_the_keyring_store_uses_the_executor_key(memory_keyring: MemoryKeyring) -> None:  # noqa: F811
    store = KeyringCredentialStore()
    await store.save(_entry(NAME))
    assert list(memory_keyring.data) == [("Codex MCP Credentials", f"{NAME}:d0ff4a8aecea8f7a")]
    assert json.loads(next(iter(memory_keyring.data.values())))["executor_owned"] is True
    loaded = await store.load(NAME, URL)
    assert loaded is not None and loaded.executor_owned is True
    assert await store.load("executor_oauth", URL) is None  # the local name does not find it


async def test_a_file_written_by_0169_is_read_and_kept(tmp_path: Path) -> None:
    entry = {
        "server_name": NAME, "server_url": URL, "issuer": "http://oauth-only.invalid", "client_id": "client-1",
        "access_token": "AT", "expires_at": 4102444800000, "refresh_token": "RT", "scopes": ["read"],
        "executor_owned": True,
    }
    (tmp_path / ".credentials.json").write_text(json.dumps({f"{NAME}:d0ff4a8aecea8f7a": entry}))
    store = FileCredentialStore(tmp_path)
    loaded = await store.load(NAME, URL)
    assert loaded is not None and loaded.access_token == "AT"
    await store.save(loaded)  # a rewrite keeps the 0.169 entry byte-for-byte in content
    assert json.loads((tmp_path / ".credentials.json").read_text()) == {f"{NAME}:d0ff4a8aecea8f7a": entry}
    executor_config = http_config(URL).model_copy(update={"environment_id": "executor-1"})
    assert await auth_status_before_discovery("executor_oauth", executor_config, store=store) == "oAuth"
    # local: no tokens
    assert await auth_status_before_discovery("executor_oauth", http_config(URL), store=store) is None


async def test_a_login_for_an_executor_server_stores_under_its_name_and_the_tokens_work(tmp_path: Path) -> None:
    with OAuthTestServer(access_token_ttl=5) as server:  # within the 30 s refresh window at once
        config = http_config(server.mcp_url).model_copy(update={"environment_id": "executor-1"})
        async with httpx2.AsyncClient(trust_env=False) as http:
            pending = await perform_login("executor_oauth", config, http_client=http, settings=settings(tmp_path))
            result, _ = await complete(pending)
        assert result.success, result.error
        entries = json.loads((tmp_path / ".credentials.json").read_text())
        key = store_key(NAME, server.mcp_url)
        assert list(entries) == [key]
        assert entries[key]["server_name"] == NAME and entries[key]["executor_owned"] is True
        tokens = TokenManager.from_settings(settings(tmp_path))
        async with httpx2.AsyncClient(trust_env=False) as http:
            token = await tokens.access_token(NAME, server.mcp_url, http)  # refreshed under the same name
        assert server.valid_access_token(token) and [g.status for g in server.grants("refresh_token")] == [200]
        after = json.loads((tmp_path / ".credentials.json").read_text())
        assert list(after) == [key] and after[key]["executor_owned"] is True and after[key]["access_token"] == token
