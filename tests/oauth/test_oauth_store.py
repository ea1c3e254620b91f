"""Credential stores: the reference's file format, 0600, atomic, lossless; the keyring backend."""

from __future__ import annotations

import json
import os
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from rootstep.mcp.oauth import (
    CredentialStoreError,
    FileCredentialStore,
    KeyringCredentialStore,
    OAuthSettings,
    StoredCredentials,
    delete_credentials,
    keyring_available,
    open_credential_store,
    store_key,
)
from rootstep.mcp.oauth.store import now_ms

pytestmark = pytest.mark.anyio

URL = "http://oauth-only.invalid/oauth-mcp"


def creds(name: str = "notes", **kw: object) -> StoredCredentials:
    base = dict(server_name=name, server_url=URL, client_id="cid", access_token="AT", refresh_token="RT",
                expires_at=now_ms() + 3_600_000, scopes=["a"])
    base.update(kw)
    return StoredCredentials(**base)  # type: ignore[arg-type]


async def test_file_store_format_mode_and_lifecycle(tmp_path) -> None:
    store = FileCredentialStore(tmp_path)
    assert await store.load("notes", URL) is None
    await store.save(creds(token_endpoint="http://oauth-only.invalid/token"))
    path = tmp_path / ".credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc == {
        "notes|d0ff4a8aecea8f7a": {
            "server_name": "notes",
            "server_url": URL,
            "client_id": "cid",
            "access_token": "AT",
            "expires_at": doc["notes|d0ff4a8aecea8f7a"]["expires_at"],
            "refresh_token": "RT",
            "scopes": ["a"],
            "token_endpoint": "http://oauth-only.invalid/token",
        }
    }
    loaded = await store.load("notes", URL)
    assert loaded is not None and loaded.access_token == "AT" and loaded.token_endpoint == "http://oauth-only.invalid/token"
    assert "AT" not in repr(loaded) and "RT" not in repr(loaded)  # secrets stay out of reprs (and logs)
    assert sorted(tmp_path.iterdir()) == sorted([path, tmp_path / "mcp-oauth-locks"])  # no temp files left
    assert await store.delete("notes", URL) is True
    assert not path.exists()  # deleted when empty
    assert await store.delete("notes", URL) is False


async def test_file_store_keeps_what_it_does_not_own(tmp_path) -> None:
    path = tmp_path / ".credentials.json"
    foreign = {"other|0123456789abcdef": {"server_name": "other", "server_url": "http://x", "client_id": "c",
                                          "access_token": "t", "executor_owned": True}}
    path.write_text(json.dumps(foreign))
    store = FileCredentialStore(tmp_path)
    await store.save(creds(executor_owned=True))
    doc = json.loads(path.read_text())
    assert doc["other|0123456789abcdef"] == foreign["other|0123456789abcdef"]
    assert doc[store_key("notes", URL)]["executor_owned"] is True  # unknown fields survive
    await store.delete("notes", URL)
    assert json.loads(path.read_text()) == foreign


async def test_corrupt_file_is_an_error_and_untouched(tmp_path) -> None:
    path = tmp_path / ".credentials.json"
    path.write_text("{not json")
    store = FileCredentialStore(tmp_path)
    with pytest.raises(CredentialStoreError, match="failed to parse credentials file"):
        await store.load("notes", URL)
    with pytest.raises(CredentialStoreError):
        await store.save(creds())
    assert path.read_text() == "{not json"


def test_usability_rules() -> None:
    now = now_ms()
    assert creds().is_usable(now)
    assert creds(expires_at=None).is_usable(now)
    assert creds(expires_at=now + 10_000, refresh_token=None).is_usable(now) is False  # within 30 s, no refresh
    assert creds(expires_at=now - 1).is_usable(now)  # expired but refreshable
    assert creds(client_id=" ").is_usable(now) is False
    assert creds(access_token="").is_usable(now) is False
    assert creds(expires_at=now + 29_000).needs_refresh(now) and not creds(expires_at=now + 31_000).needs_refresh(now)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (the library's plugin API) that keeps secrets in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


async def test_keyring_store(memory_keyring: MemoryKeyring, tmp_path) -> None:
    assert keyring_available()
    store = open_credential_store(OAuthSettings(codex_home=tmp_path, credentials_store="auto"))
    assert isinstance(store, KeyringCredentialStore)
    await store.save(creds())
    assert list(memory_keyring.data) == [("Codex MCP Credentials", "notes|d0ff4a8aecea8f7a")]
    loaded = await store.load("notes", URL)
    assert loaded is not None and loaded.refresh_token == "RT"
    assert not (tmp_path / ".credentials.json").exists()
    assert await store.delete("notes", URL) and not await store.delete("notes", URL)
    # logout removes it from every store, whatever the mode
    await store.save(creds())
    await FileCredentialStore(tmp_path).save(creds())
    assert await delete_credentials(OAuthSettings(codex_home=tmp_path, credentials_store="file"), "notes", URL)
    assert memory_keyring.data == {} and not (tmp_path / ".credentials.json").exists()
    assert not await delete_credentials(OAuthSettings(codex_home=tmp_path), "notes", URL)
    forced_file = open_credential_store(OAuthSettings(codex_home=tmp_path, credentials_store="file"))
    assert isinstance(forced_file, FileCredentialStore)


def test_auto_is_the_file_without_a_keyring(tmp_path) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert not keyring_available()
        assert isinstance(open_credential_store(OAuthSettings(codex_home=tmp_path)), FileCredentialStore)
        store = open_credential_store(OAuthSettings(codex_home=tmp_path, credentials_store="keyring"))
        assert isinstance(store, KeyringCredentialStore)
    finally:
        keyring.set_keyring(previous)
