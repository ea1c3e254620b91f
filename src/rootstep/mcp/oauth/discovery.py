"""Authorization-server discovery in the reference's order (spec §7.2 step 3).

Written sans-IO: :func:`discovery_flow` is a generator that yields the GET requests to make and
is sent back each answer as a :class:`MetadataResponse`. :func:`discover` drives it over an
``httpx2.AsyncClient`` (the environment's, so executor proxies apply); the bearer auth drives the
same flow from inside an httpx auth flow when it must find a token endpoint after a restart.

Why not the SDK's ``OAuthClientProvider`` discovery: the reference also tries the server URL
itself, the path-appended well-known forms and four authorization-server forms on the server's
origin, and checks the issuer against the discovery base and the token endpoint's origin. The
SDK's metadata models and helpers are used for the parts that agree.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from mcp.client.auth.utils import extract_field_from_www_auth
from mcp.shared.auth import OAuthMetadata
from mcp_types import LATEST_PROTOCOL_VERSION
from pydantic import ValidationError

from rootstep.config.mcp_servers import HttpTransport
from rootstep.mcp.oauth.errors import OAuthDiscoveryError
from rootstep.mcp.oauth.response_limit import IDENTITY, limit_response
from rootstep.mcp.oauth.urls import (
    authorization_server_candidates,
    issuer_matches,
    normalize_scopes,
    origin,
    protected_resource_candidates,
    resolve_reference,
)

logger = logging.getLogger(__name__)

MAX_METADATA_BYTES = 1 << 20
CROSS_ORIGIN_TOKEN_ENDPOINT = (
    "OAuth token endpoint origin does not match the authorization server origin without issuer-bound callbacks"
)


@dataclass(frozen=True)
class MetadataResponse:
    """What the flow needs of an answer: status, the ``WWW-Authenticate`` header, a small body."""

    status: int
    www_authenticate: str | None = None
    body: bytes | None = None  # None when not read (not 200, an event stream, or too large)


@dataclass(frozen=True)
class OAuthDiscovery:
    """Usable authorization-server metadata and where it came from."""

    metadata: OAuthMetadata
    metadata_url: str
    resource_metadata_url: str | None = None
    scopes_supported: list[str] | None = None
    declared_issuer: str | None = None  # as the metadata wrote it (None when it named none)
    requested_urls: tuple[str, ...] = field(default=(), compare=False)

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata.token_endpoint)


def configured_headers(transport: HttpTransport, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's static headers plus ``env_http_headers`` whose variables are set and non-blank."""
    env = os.environ if environ is None else environ
    headers = dict(transport.http_headers)
    for header, var in transport.env_http_headers:
        value = env.get(var)
        if value is not None and value.strip():
            headers[header] = value
    return headers


def _get(url: str, headers: Mapping[str, str] | None) -> httpx2.Request:
    merged = {"Accept": "application/json", "MCP-Protocol-Version": LATEST_PROTOCOL_VERSION}
    merged.update(headers or {})
    merged.update(IDENTITY)
    return httpx2.Request("GET", url, headers=merged)


def _json_object(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _authorization_servers(doc: dict[str, Any]) -> list[str] | None:
    """``authorization_servers`` (RFC 9728), or a single ``authorization_server``; None if absent."""
    servers = doc.get("authorization_servers")
    if servers is None and isinstance(doc.get("authorization_server"), str):
        servers = [doc["authorization_server"]]
    if not isinstance(servers, list):
        return None
    found = [s for s in servers if isinstance(s, str) and s.strip()]
    return found or None


def parse_authorization_server_metadata(body: bytes | None, expected_issuer: str) -> OAuthMetadata | None:
    """Metadata if the body is a usable document; raises if it names another issuer or origin.

    An absent ``issuer`` is accepted (the reference's mocks omit it) and recorded as the
    expected one.
    """
    doc = _json_object(body)
    if doc is None:
        return None
    issuer = doc.get("issuer")
    if isinstance(issuer, str) and issuer and not issuer_matches(issuer, expected_issuer):
        raise OAuthDiscoveryError(f"OAuth metadata issuer `{issuer}` does not match `{expected_issuer}`")
    doc = {**doc, "issuer": issuer if isinstance(issuer, str) and issuer else expected_issuer}
    try:
        metadata = OAuthMetadata.model_validate(doc)
    except ValidationError:
        return None
    try:
        same_origin = origin(str(metadata.token_endpoint)) == origin(str(metadata.authorization_endpoint))
    except ValueError:
        same_origin = False
    if not same_origin:
        raise OAuthDiscoveryError(CROSS_ORIGIN_TOKEN_ENDPOINT)
    return metadata


def discovery_flow(
    server_url: str, headers: Mapping[str, str] | None = None, *, probe_server_url: bool = True
) -> Generator[httpx2.Request, MetadataResponse, OAuthDiscovery | None]:
    """Yield discovery GETs; return the discovery, or None when the server advertises no OAuth.

    ``probe_server_url=False`` skips the GET of the MCP endpoint itself: inside an httpx auth
    flow a server answering it with an event stream would have its body read to the end.
    """
    requested: list[str] = []

    def ask(url: str) -> httpx2.Request:
        requested.append(url)
        return _get(url, headers)

    # a. protected-resource metadata
    queue = protected_resource_candidates(server_url)
    if not probe_server_url:
        queue = queue[1:]
    tried: set[str] = set()
    resource_doc: dict[str, Any] | None = None
    resource_url: str | None = None
    while queue:
        url = queue.pop(0)
        if url in tried:
            continue
        tried.add(url)
        answer = yield ask(url)
        if answer.status == 200:
            doc = _json_object(answer.body)
            if doc is not None and _authorization_servers(doc):
                resource_doc, resource_url = doc, url
                break
        if url == server_url and answer.status == 401 and answer.www_authenticate:
            named = _www_auth_field(answer.www_authenticate, "resource_metadata")
            if named:
                queue.insert(0, resolve_reference(server_url, named))

    bases: list[str] = list(_authorization_servers(resource_doc) or []) if resource_doc else []
    # b. authorization-server metadata: the advertised servers, then the MCP server's origin
    bases.append(server_url)
    scopes_supported = resource_doc.get("scopes_supported") if resource_doc else None
    prm_scopes = normalize_scopes(scopes_supported) if isinstance(scopes_supported, list) else None
    seen: set[str] = set()
    for base in bases:
        for url, expected_issuer in authorization_server_candidates(base):
            if url in seen:
                continue
            seen.add(url)
            answer = yield ask(url)
            if answer.status != 200:
                continue
            metadata = parse_authorization_server_metadata(answer.body, expected_issuer)
            if metadata is None:
                continue
            scopes = normalize_scopes(metadata.scopes_supported) or prm_scopes
            declared = (_json_object(answer.body) or {}).get("issuer")
            return OAuthDiscovery(
                metadata=metadata,
                metadata_url=url,
                resource_metadata_url=resource_url,
                scopes_supported=scopes,
                declared_issuer=declared if isinstance(declared, str) and declared else None,
                requested_urls=tuple(requested),
            )
    logger.debug("no OAuth metadata found for %s", server_url)
    return None


def _www_auth_field(header: str, name: str) -> str | None:
    response = httpx2.Response(401, headers={"WWW-Authenticate": header})
    return extract_field_from_www_auth(response, name)


async def read_metadata_response(response: httpx2.Response) -> MetadataResponse:
    """Read what discovery needs of a (streamed) answer, never an event stream, at most 1 MiB.

    The cap is put on the body stream itself (:func:`.response_limit.limit_response`), so a
    chunked body without a length, and httpx's own read of it at the end of an auth flow, stop
    there too."""
    limit_response(response, MAX_METADATA_BYTES)
    body: bytes | None = None
    content_type = response.headers.get("content-type", "").lower()
    declared = response.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > MAX_METADATA_BYTES
    if response.status_code == 200 and not content_type.startswith("text/event-stream") and not too_large:
        # ``aread`` (not a partial iteration): inside an auth flow httpx reads the body again.
        body = await response.aread()
        if len(body) > MAX_METADATA_BYTES:
            body = None
    return MetadataResponse(response.status_code, response.headers.get("www-authenticate"), body or None)


async def discover(
    client: httpx2.AsyncClient, server_url: str, *, headers: Mapping[str, str] | None = None
) -> OAuthDiscovery | None:
    """Run :func:`discovery_flow` over ``client``. Network errors propagate; non-200s move on.

    The client's own ``auth`` is not applied: metadata is public, and a bearer for the MCP
    server has no business at other endpoints.
    """
    flow = discovery_flow(server_url, headers)
    request = next(flow)
    while True:
        response = await client.send(request, stream=True, follow_redirects=False, auth=None)
        try:
            answer = await read_metadata_response(response)
        finally:
            await response.aclose()
        try:
            request = flow.send(answer)
        except StopIteration as stop:
            return cast("OAuthDiscovery | None", stop.value)
