"""Errors of the MCP OAuth layer, each a sentence a user can act on.

Messages never carry tokens, authorization codes or client secrets: they end up in
notifications, status lists and logs.
"""

from __future__ import annotations


class OAuthError(Exception):
    """Base class of every MCP OAuth failure."""


class OAuthUnsupportedServerError(OAuthError):
    """The server is not one OAuth login applies to (stdio, or not streamable HTTP)."""

    def __init__(self) -> None:
        super().__init__("OAuth login is only supported for streamable HTTP servers.")


class OAuthDiscoveryError(OAuthError):
    """Authorization-server metadata was found but cannot be trusted or used."""


class OAuthLoginError(OAuthError):
    """Setting up a login failed (callback port, discovery, registration, bad metadata)."""


class CredentialStoreError(OAuthError):
    """The credential store cannot be read or written; nothing was overwritten."""


class OAuthLoginRequiredError(OAuthError):
    """No usable token: the user must run the login flow for this server (again)."""

    def __init__(self, server_name: str, reason: str, *, reauthentication: bool = False) -> None:
        self.server_name = server_name
        self.reason = reason
        # Stored credentials exist but cannot be used or refreshed (spec §2.11 ``failureReason:
        # "reauthenticationRequired"``), as opposed to never having logged in.
        self.reauthentication = reauthentication
        super().__init__(f"MCP server `{server_name}` requires OAuth login: {reason}")
