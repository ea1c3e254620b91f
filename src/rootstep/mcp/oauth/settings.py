"""The ``mcp_oauth_*`` settings of config.toml (spec §3.1), as one immutable value.

The config layer maps its keys into :class:`OAuthSettings`; this package never reads
config.toml itself, so the OAuth code stays testable without a home folder on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rootstep.mcp.oauth.errors import OAuthLoginError

CredentialsStoreMode = Literal["auto", "file", "keyring"]

DEFAULT_LOGIN_TIMEOUT_SECS = 300.0


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
            raise OAuthLoginError(f"invalid MCP OAuth callback port `{port}`: port must be between 1 and 65535")
        return port
