"""``authStatus`` of one MCP server for ``mcpServerStatus/list`` (spec §7.3, §8).

Decided from configuration and stored credentials first; only a server with neither a
configured bearer nor stored tokens costs a discovery (5 s at most, through the server's
environment's HTTP client).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Literal

import anyio
import httpx2

from rootstep.config.mcp_servers import HttpTransport, McpServerConfig
from rootstep.mcp.credential_names import credential_name
from rootstep.mcp.oauth.discovery import configured_headers, discover
from rootstep.mcp.oauth.errors import OAuthError
from rootstep.mcp.oauth.store import CredentialStore

logger = logging.getLogger(__name__)

McpAuthStatus = Literal["unsupported", "notLoggedIn", "bearerToken", "oAuth"]
DISCOVERY_TIMEOUT_SECS = 5.0


def has_configured_bearer(transport: HttpTransport, environ: Mapping[str, str] | None = None) -> bool:
    """``bearer_token_env_var`` set, or an ``Authorization`` header among the configured headers."""
    if transport.bearer_token_env_var:
        return True
    headers = configured_headers(transport, os.environ if environ is None else environ)
    return any(name.lower() == "authorization" for name in headers)


async def auth_status_before_discovery(
    server_name: str, config: McpServerConfig, *, store: CredentialStore, environ: Mapping[str, str] | None = None
) -> McpAuthStatus | None:
    """The status when config and stored credentials decide it; None when discovery must."""
    transport = config.transport
    if not config.enabled or not isinstance(transport, HttpTransport):
        return "unsupported"
    if has_configured_bearer(transport, environ):
        return "bearerToken"
    stored = await store.load(credential_name(server_name, config.environment_id), transport.url)
    if stored is not None:
        return "oAuth" if stored.is_usable() else "notLoggedIn"
    return None


async def auth_status(
    server_name: str,
    config: McpServerConfig,
    *,
    store: CredentialStore,
    http_client: httpx2.AsyncClient,
    timeout_secs: float = DISCOVERY_TIMEOUT_SECS,
    environ: Mapping[str, str] | None = None,
) -> McpAuthStatus:
    """``unsupported`` | ``notLoggedIn`` | ``bearerToken`` | ``oAuth``; never raises for a bad server."""
    try:
        decided = await auth_status_before_discovery(server_name, config, store=store, environ=environ)
    except OAuthError as exc:
        logger.warning("auth status of MCP server `%s`: %s", server_name, exc)
        return "notLoggedIn"
    if decided is not None:
        return decided
    transport = config.transport
    assert isinstance(transport, HttpTransport)
    try:
        with anyio.fail_after(timeout_secs):
            found = await discover(http_client, transport.url, headers=configured_headers(transport, environ))
    except (TimeoutError, httpx2.HTTPError, OAuthError, ValueError) as exc:
        logger.debug("OAuth discovery for `%s` failed: %s", server_name, type(exc).__name__)
        return "unsupported"
    return "notLoggedIn" if found is not None else "unsupported"
