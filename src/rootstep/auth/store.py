"""The account the model requests authenticate as.

``auth.json`` has the shapes codex 0.169 writes: ``{"auth_mode": "apikey", "OPENAI_API_KEY":
"sk-..."}`` after an API-key login, ``{"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
"tokens": {"id_token", "access_token", "refresh_token", "account_id"}, "last_refresh"}`` after
a ChatGPT login (read here, written by ``codex login``). The file is written atomically with mode
0600. ChatGPT tokens supplied by a host app (``chatgptAuthTokens``) live in memory only, as in
codex: they win over the file until logout.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rootstep.config.writer import write_private

log = logging.getLogger(__name__)

AUTH_FILE = "auth.json"
_AUTH_CLAIMS = "https://api.openai.com/auth"


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT without verifying it (it only names the account); {} if unreadable."""
    if not isinstance(token, str) or token.count(".") < 2:
        return {}
    payload = token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class AuthState:
    """One account: ``mode`` is the wire ``AuthMode`` (``apikey``, ``chatgpt``, ``chatgptAuthTokens``)."""

    mode: str
    api_key: str | None = None
    access_token: str | None = None
    account_id: str | None = None
    email: str | None = None
    plan_type: str | None = None
    user_id: str | None = None

    @property
    def is_chatgpt(self) -> bool:
        return self.mode in ("chatgpt", "chatgptAuthTokens")

    def bearer(self) -> str | None:
        return self.api_key if self.mode == "apikey" else self.access_token

    def headers(self) -> dict[str, str]:
        """Extra headers model requests carry for this account (the ChatGPT workspace)."""
        return {"chatgpt-account-id": self.account_id} if self.is_chatgpt and self.account_id else {}

    def account(self) -> dict[str, Any]:
        """The wire ``Account``."""
        if self.mode == "apikey":
            return {"type": "apiKey"}
        return {"type": "chatgpt", "email": self.email, "planType": self.plan_type or "unknown"}


def _chatgpt_state(mode: str, access_token: str, account_id: str | None, plan: str | None,
                   id_token: str | None = None) -> AuthState:
    claims = {**jwt_claims(id_token), **jwt_claims(access_token)}
    raw_auth = claims.get(_AUTH_CLAIMS)
    auth: dict[str, Any] = raw_auth if isinstance(raw_auth, dict) else {}
    return AuthState(
        mode=mode,
        access_token=access_token,
        account_id=account_id or auth.get("chatgpt_account_id"),
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        plan_type=plan or auth.get("chatgpt_plan_type") or None,
        user_id=auth.get("chatgpt_user_id") or auth.get("user_id"),
    )


def parse_auth_file(data: Any) -> AuthState | None:
    """``auth.json`` contents → the account it holds (None when it holds none). Pure."""
    if not isinstance(data, dict):
        return None
    tokens = data.get("tokens")
    mode = data.get("auth_mode")
    if isinstance(tokens, dict) and isinstance(tokens.get("access_token"), str) and mode != "apikey":
        return _chatgpt_state("chatgpt", tokens["access_token"], tokens.get("account_id"), None, tokens.get("id_token"))
    key = data.get("OPENAI_API_KEY")
    if isinstance(key, str) and key:
        return AuthState(mode="apikey", api_key=key)
    return None


class AuthStore:
    """The current account of one app-server (file-backed, plus in-memory external tokens)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._external: AuthState | None = None

    @property
    def path(self) -> Path:
        return self.home / AUTH_FILE

    def current(self) -> AuthState | None:
        if self._external is not None:
            return self._external
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return None
        return parse_auth_file(data)

    @property
    def external_active(self) -> bool:
        return self._external is not None

    def login_api_key(self, api_key: str) -> AuthState:
        self._write({"auth_mode": "apikey", "OPENAI_API_KEY": api_key})
        return AuthState(mode="apikey", api_key=api_key)

    def login_external_tokens(self, access_token: str, account_id: str, plan_type: str | None) -> AuthState:
        self._external = _chatgpt_state("chatgptAuthTokens", access_token, account_id, plan_type)
        return self._external

    def logout(self) -> bool:
        """Forget every credential; True if there was one."""
        had = self._external is not None or self.path.exists()
        self._external = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        return had

    def _write(self, data: dict[str, Any]) -> None:
        """``auth.json`` replaced atomically, private (as every secret file: :func:`write_private`)."""
        write_private(self.path, json.dumps(data, indent=2))
