"""The ``mcp_oauth_*`` keys of config.toml as one immutable value, read once with the config.

The OAuth code (``rootstep.mcp.oauth``) never reads config.toml itself, so it stays testable
without a home folder on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CredentialsStoreMode = Literal["auto", "file", "keyring"]

DEFAULT_LOGIN_TIMEOUT_SECS = 300.0


class InvalidCallbackPort(ValueError):
    """``mcp_oauth_callback_port`` is outside 1..65535."""


@dataclass(frozen=True)
class OAuthSettings:
    """Where credentials live and how the login callback is reached.

    ``codex_home`` holds ``.credentials.json`` and the lock folder. ``callback_port`` None means
    an ephemeral port; ``callback_url`` overrides the redirect URI (the listener still binds
    127.0.0.1).
    """

    codex_home: Path
    credentials_store: CredentialsStoreMode = "auto"
    callback_port: int | None = None
    callback_url: str | None = None

    def resolved_callback_port(self) -> int:
        """The port to bind: the configured one (1..65535) or 0 for an ephemeral port."""
        port = self.callback_port
        if port is None:
            return 0
        if not 1 <= port <= 65535:
            raise InvalidCallbackPort(f"invalid MCP OAuth callback port `{port}`: port must be between 1 and 65535")
        return port


def oauth_settings(home: Path, raw: Any) -> OAuthSettings:
    """The ``mcp_oauth_*`` keys of a config.toml mapping (a wrong type is the default)."""
    raw = raw if isinstance(raw, dict) else {}
    mode = raw.get("mcp_oauth_credentials_store", "auto")
    port, url = raw.get("mcp_oauth_callback_port"), raw.get("mcp_oauth_callback_url")
    return OAuthSettings(
        codex_home=home,
        credentials_store=mode if mode in ("auto", "file", "keyring") else "auto",
        callback_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
        callback_url=url if isinstance(url, str) else None,
    )
