"""How a login gets its OAuth client: configured id, CIMD, or dynamic registration (codex 0.169).

``mcpServer/oauth/login {clientRegistration}`` / ``rootstep mcp login --oauth-client-registration``
pick the strategy for one login. Observed on the 0.169 binary (``codex mcp login
--oauth-client-registration``, ``tests/oauth/test_oauth_client_registration.py``):

* a configured ``oauth.client_id`` always wins, whatever the strategy (no registration, no CIMD);
* ``auto`` (the default) uses a Client ID Metadata Document when the authorization server can
  take one, dynamic client registration otherwise;
* ``cimd`` insists on CIMD and fails the login request when the server cannot take it;
* ``dcr`` registers dynamically even when CIMD is advertised.

"Can take one" means the metadata says ``client_id_metadata_document_supported: true`` with
``none`` among ``token_endpoint_auth_methods_supported`` (the document describes a public
client), and the redirect is the ephemeral loopback callback ``http://127.0.0.1:<port>/callback/
<callback id>`` — the hosted document can only list loopback redirects, whose port RFC 8252 lets
vary. Codex's document lives at ``https://chatgpt.com/oauth/codex/<callback id>/client.json``, one
per server (the callback id names the server URL, as in the callback path).

Everything here is a pure function of strings and metadata; the SDK supplies the CIMD checks and
the client information built from the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from mcp.client.auth.utils import (
    create_client_info_from_metadata_url,
    is_valid_client_metadata_url,
    should_use_client_metadata_url,
)
from mcp.shared.auth import OAuthMetadata
from pydantic import AnyUrl

from rootstep.mcp.oauth.errors import OAuthLoginError
from rootstep.mcp.oauth.urls import CALLBACK_PATH, callback_id

ClientRegistration = Literal["auto", "cimd", "dcr"]
ClientSource = Literal["configured", "cimd", "dcr"]

CIMD_DOCUMENT_BASE = "https://chatgpt.com/oauth/codex"
CIMD_UNSUPPORTED = "MCP authorization server does not advertise CIMD with token endpoint auth method `none`"


def client_metadata_url(server_url: str) -> str:
    """The URL client id Codex sends for this server (a hosted Client ID Metadata Document)."""
    return f"{CIMD_DOCUMENT_BASE}/{callback_id(server_url)}/client.json"


def server_accepts_cimd(metadata: OAuthMetadata, document_url: str) -> bool:
    """CIMD advertised, for a public client (token endpoint auth method ``none``)."""
    if not should_use_client_metadata_url(metadata, document_url):
        return False
    return "none" in (metadata.token_endpoint_auth_methods_supported or [])


def is_ephemeral_loopback_callback(redirect: str, server_url: str) -> bool:
    """The default redirect ``http://127.0.0.1:<port>/callback/<callback id>`` (any port)."""
    parts = urlsplit(redirect)
    return (
        parts.scheme == "http"
        and parts.hostname == "127.0.0.1"
        and parts.path == f"{CALLBACK_PATH}/{callback_id(server_url)}"
        and not parts.query
    )


@dataclass(frozen=True)
class ClientChoice:
    """Where the login's client id comes from; ``client_id`` is known unless it is ``dcr``."""

    source: ClientSource
    client_id: str | None = None


def choose_client(
    strategy: ClientRegistration | None,
    *,
    configured_client_id: str | None,
    metadata: OAuthMetadata,
    redirect: str,
    server_url: str,
) -> ClientChoice:
    """Decide the client for one login; raises :class:`OAuthLoginError` for an impossible ``cimd``.

    The metadata check comes before the callback check, as in 0.169 (a server without CIMD and
    a configured callback URL report the metadata error).
    """
    if configured_client_id and configured_client_id.strip():
        return ClientChoice("configured", configured_client_id.strip())
    strategy = strategy or "auto"
    if strategy == "dcr":
        return ClientChoice("dcr")
    document = client_metadata_url(server_url)
    assert is_valid_client_metadata_url(document)
    usable = server_accepts_cimd(metadata, document)
    if strategy == "cimd":
        if not usable:
            raise OAuthLoginError(CIMD_UNSUPPORTED)
        if not is_ephemeral_loopback_callback(redirect, server_url):
            raise OAuthLoginError(
                f"MCP OAuth CIMD requires an ephemeral loopback callback at `{CALLBACK_PATH}/{callback_id(server_url)}`"
            )
    elif not (usable and is_ephemeral_loopback_callback(redirect, server_url)):
        return ClientChoice("dcr")
    info = create_client_info_from_metadata_url(document, redirect_uris=[AnyUrl(redirect)])
    return ClientChoice("cimd", info.client_id)
