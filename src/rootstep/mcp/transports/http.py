"""A streamable-HTTP MCP server as an SDK stream pair, over an ``httpx2.AsyncClient``.

Headers come from the server config (spec §3.2): static ``http_headers``, ``env_http_headers``
(header ← env var, skipped when unset or blank) and ``bearer_token_env_var`` (an error when
the variable is unset or empty, so the server fails to start with a clear reason). The client
honours ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (``trust_env``). Whose client it is
decides where requests leave from: a local one here, or an environment's
(``Environment.http_client()``) for servers reached from an executor.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError

from rootstep.config.mcp_servers import HttpTransport
from rootstep.mcp.transports.read_wrapper import ReadStreamWrapper

# Same defaults as the SDK: 30 s to connect/write, a long read for held-open SSE streams.
DEFAULT_TIMEOUT = httpx2.Timeout(30.0, read=300.0)

ClientFactory = Callable[[dict[str, str], httpx2.Auth | None], httpx2.AsyncClient]


class MissingBearerToken(ValueError):
    """``bearer_token_env_var`` names a variable that is unset or empty."""


def request_headers(transport: HttpTransport, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers every request to this server carries. Pure; raises MissingBearerToken."""
    source = os.environ if environ is None else environ
    headers = dict(transport.http_headers)
    for header, var in transport.env_http_headers:
        value = source.get(var)
        if value is not None and value.strip():
            headers[header] = value
    if transport.bearer_token_env_var:
        token = source.get(transport.bearer_token_env_var)
        if not token:
            raise MissingBearerToken(
                f"Environment variable {transport.bearer_token_env_var} for MCP server bearer token "
                "is not set or is empty"
            )
        headers["Authorization"] = f"Bearer {token}"
    return headers


def local_client(headers: dict[str, str], auth: httpx2.Auth | None) -> httpx2.AsyncClient:
    """A host client (proxies from the environment apply)."""
    return httpx2.AsyncClient(headers=headers, auth=auth, timeout=DEFAULT_TIMEOUT, trust_env=True)


SDK_HTTP_ERROR = "Server returned an error response"  # the SDK's stand-in for a non-2xx answer


class _LoginAwareReadStream(ReadStreamWrapper):
    """The SDK's read stream, with the stand-in error of a 401 that no stored OAuth token can
    fix replaced by why the server needs a login (``auth.login_error``, set by the auth flow
    before the SDK sees the response). Only OAuth-authorized servers get this wrapper."""

    def __init__(self, inner: Any, auth: Any) -> None:
        super().__init__(inner)
        self._auth = auth

    async def receive(self) -> Any:
        item = await self._inner.receive()
        if isinstance(item, SessionMessage):
            message = item.message
            if isinstance(message, JSONRPCError) and message.error.message == SDK_HTTP_ERROR:
                login_error = self._auth.login_error
                if login_error is not None:
                    error = ErrorData(code=message.error.code, message=str(login_error))
                    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=message.id, error=error))
        return item


@asynccontextmanager
async def http_transport(
    transport: HttpTransport,
    *,
    client_factory: ClientFactory = local_client,
    auth: httpx2.Auth | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[TransportStreams]:
    """Connect to ``transport.url``; the client is closed when the context ends."""
    headers = request_headers(transport, environ)
    try:
        async with client_factory(headers, auth) as client:
            async with streamable_http_client(transport.url, http_client=client) as streams:
                read = _LoginAwareReadStream(streams[0], auth) if hasattr(auth, "login_error") else streams[0]
                yield read, streams[1]
    except Exception as exc:
        # A 401 no stored token can fix reaches the session as the SDK's generic "Server
        # returned an error response"; say that the server needs an OAuth login instead.
        login_error = getattr(auth, "login_error", None)
        if isinstance(login_error, Exception):
            raise login_error from exc
        raise
