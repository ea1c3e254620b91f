"""Where OAuth credentials live (spec §7.3): ``CODEX_HOME/.credentials.json`` or the OS keyring.

The file is the reference's format — a JSON object ``key → entry`` with ``key`` from
:func:`~rootstep.mcp.oauth.urls.store_key` — so credentials move between rootstep and Codex. We
add the token endpoint (and any client secret) to the entry so a refresh after a restart needs no
rediscovery; entries and keys we do not know are kept untouched on every rewrite.

The file is mode 0600, replaced atomically (temp file + rename) under a cross-process lock,
and deleted when its last entry goes. A file we cannot parse is an error, never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rootstep.config.mcp_oauth import OAuthSettings
from rootstep.mcp.oauth.errors import CredentialStoreError
from rootstep.mcp.oauth.locks import locked, store_lock_path
from rootstep.mcp.oauth.urls import store_key

logger = logging.getLogger(__name__)

CREDENTIALS_FILE = ".credentials.json"
KEYRING_SERVICE = "Codex MCP Credentials"
REFRESH_SKEW_MS = 30_000


def now_ms() -> int:
    return int(time.time() * 1000)


class StoredCredentials(BaseModel):
    """One server's tokens. ``expires_at`` is absolute (unix ms) so it survives restarts."""

    model_config = ConfigDict(extra="allow")

    server_name: str
    server_url: str
    issuer: str | None = None  # the authorization server's declared issuer, when it declared one
    client_id: str
    access_token: str = Field(repr=False)
    expires_at: int | None = None
    refresh_token: str | None = Field(default=None, repr=False)
    scopes: list[str] = Field(default_factory=list)
    # rootstep additions: refresh after a restart without rediscovery.
    token_endpoint: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    # codex 0.169: set on entries whose server_name is executor-namespaced (credential_names).
    executor_owned: bool | None = None

    @property
    def key(self) -> str:
        return store_key(self.server_name, self.server_url)

    def needs_refresh(self, now: int | None = None) -> bool:
        """Within 30 s of expiry (or past it). Unknown expiry never needs a refresh."""
        if self.expires_at is None:
            return False
        return (now if now is not None else now_ms()) + REFRESH_SKEW_MS >= self.expires_at

    def is_expired(self, now: int | None = None) -> bool:
        return self.expires_at is not None and (now if now is not None else now_ms()) >= self.expires_at

    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.refresh_token.strip())

    def is_usable(self, now: int | None = None) -> bool:
        """The reference's rule: a client id, and either a fresh access token or a refresh token."""
        if not self.client_id.strip():
            return False
        if self.needs_refresh(now):
            return self.can_refresh()
        return bool(self.access_token.strip())

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CredentialStore(Protocol):
    """Load, save and delete one server's credentials. Implementations are safe across processes."""

    async def load(self, server_name: str, server_url: str) -> StoredCredentials | None: ...

    async def save(self, credentials: StoredCredentials) -> None: ...

    async def delete(self, server_name: str, server_url: str) -> bool: ...


class _ThreadedStore:
    """The async surface of a store whose IO is blocking (files, the lock, the OS keyring):
    each call runs the subclass's ``*_sync`` method in a worker thread."""

    async def load(self, server_name: str, server_url: str) -> StoredCredentials | None:
        return await anyio.to_thread.run_sync(self.load_sync, server_name, server_url)

    async def save(self, credentials: StoredCredentials) -> None:
        await anyio.to_thread.run_sync(self.save_sync, credentials)

    async def delete(self, server_name: str, server_url: str) -> bool:
        return await anyio.to_thread.run_sync(self.delete_sync, server_name, server_url)

    def load_sync(self, server_name: str, server_url: str) -> StoredCredentials | None:
        raise NotImplementedError

    def save_sync(self, credentials: StoredCredentials) -> None:
        raise NotImplementedError

    def delete_sync(self, server_name: str, server_url: str) -> bool:
        raise NotImplementedError


class FileCredentialStore(_ThreadedStore):
    """``CODEX_HOME/.credentials.json`` (mode 0600), shared with the reference's file format."""

    def __init__(self, codex_home: Path) -> None:
        self.codex_home = Path(codex_home)
        self.path = self.codex_home / CREDENTIALS_FILE
        self._lock_path = store_lock_path(self.codex_home)

    def __repr__(self) -> str:
        return f"FileCredentialStore({str(self.path)!r})"

    # --- sync core ---
    def load_sync(self, server_name: str, server_url: str) -> StoredCredentials | None:
        key = store_key(server_name, server_url)
        with locked(self._lock_path):
            entries = self._read()
        raw = entries.get(key)
        if raw is None:
            # The reference matches by recomputed key, whatever the map key says.
            raw = next(
                (
                    e
                    for e in entries.values()
                    if isinstance(e, dict) and e.get("server_name") == server_name and e.get("server_url") == server_url
                ),
                None,
            )
        if raw is None:
            return None
        try:
            return StoredCredentials.model_validate(raw)
        except ValidationError as exc:
            raise CredentialStoreError(
                f"credentials for `{server_name}` in {self.path} are malformed: {exc.error_count()} error(s)"
            ) from None

    def save_sync(self, credentials: StoredCredentials) -> None:
        with locked(self._lock_path):
            entries = self._read()
            entries[credentials.key] = credentials.to_json()
            self._write(entries)

    def delete_sync(self, server_name: str, server_url: str) -> bool:
        key = store_key(server_name, server_url)
        with locked(self._lock_path):
            entries = self._read()
            if key not in entries:
                return False
            del entries[key]
            self._write(entries)
        return True

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialStoreError(f"failed to read credentials file at {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CredentialStoreError(
                f"failed to parse credentials file at {self.path}: {exc.msg} (line {exc.lineno})"
            ) from None
        if not isinstance(data, dict):
            raise CredentialStoreError(f"failed to parse credentials file at {self.path}: not a JSON object")
        return data

    def _write(self, entries: dict[str, Any]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".credentials.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entries, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class KeyringCredentialStore(_ThreadedStore):
    """The OS keyring (service ``Codex MCP Credentials``, account = store key, secret = entry JSON)."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringCredentialStore({self.service!r})"

    def load_sync(self, server_name: str, server_url: str) -> StoredCredentials | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            secret = keyring.get_password(self.service, store_key(server_name, server_url))
        except KeyringError as exc:
            raise CredentialStoreError(f"failed to read MCP credentials from the OS keyring: {exc}") from None
        if secret is None:
            return None
        try:
            return StoredCredentials.model_validate_json(secret)
        except ValidationError:
            raise CredentialStoreError(f"keyring credentials for `{server_name}` are malformed") from None

    def save_sync(self, credentials: StoredCredentials) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(
                self.service, credentials.key, json.dumps(credentials.to_json(), separators=(",", ":"))
            )
        except KeyringError as exc:
            raise CredentialStoreError(f"failed to save MCP credentials to the OS keyring: {exc}") from None

    def delete_sync(self, server_name: str, server_url: str) -> bool:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(self.service, store_key(server_name, server_url))
        except PasswordDeleteError:
            return False
        except KeyringError as exc:
            raise CredentialStoreError(f"failed to delete MCP credentials from the OS keyring: {exc}") from None
        return True


def keyring_available() -> bool:
    """True only when a real keyring backend is configured (not the fail/null placeholders)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
    except Exception:  # a broken keyring installation is "not available"
        return False
    placeholders = (fail.Keyring, null.Keyring)
    if isinstance(backend, chainer.ChainerBackend):
        return any(not isinstance(b, placeholders) for b in backend.backends)
    return not isinstance(backend, placeholders)


def open_credential_store(settings: OAuthSettings) -> CredentialStore:
    """The store ``mcp_oauth_credentials_store`` selects; ``auto`` is the file unless a keyring is available."""
    mode = settings.credentials_store
    if mode == "keyring" or (mode == "auto" and keyring_available()):
        return KeyringCredentialStore()
    return FileCredentialStore(settings.codex_home)


async def delete_credentials(settings: OAuthSettings, server_name: str, server_url: str) -> bool:
    """Logout: remove the server's credentials from the file and, when one is usable, the keyring.

    Both are tried whatever the mode, so a logout after switching ``mcp_oauth_credentials_store``
    leaves nothing behind. True when something was removed.
    """
    removed = await FileCredentialStore(settings.codex_home).delete(server_name, server_url)
    if settings.credentials_store == "keyring" or keyring_available():
        try:
            removed = await KeyringCredentialStore().delete(server_name, server_url) or removed
        except CredentialStoreError:
            if settings.credentials_store == "keyring":
                raise
    return removed
