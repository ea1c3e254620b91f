"""Pure decisions of the OAuth flow: identifiers, candidate URLs, scopes, the authorization URL.

Everything here is a function of strings, so the reference's exact choices (callback id, store
key, discovery order) are pinned by unit tests without sockets.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Literal
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from mcp.client.auth.utils import issuers_match

from rootstep.mcp.credential_names import is_executor_owned

CALLBACK_PATH = "/callback"
_DEFAULT_PORTS = {"http": 80, "https": 443}

ScopesSource = Literal["explicit", "configured", "discovered", "empty"]


def _normalized(url: str) -> str:
    """A URL in the form the reference's URL parser prints it (WHATWG-ish), fragment dropped.

    Lower-case scheme and host, default port removed, empty path shown as ``/``.
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"invalid MCP server URL `{url}`: it must include a scheme and a host")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def callback_id(server_url: str) -> str:
    """12 URL-safe characters naming this server in the callback path.

    ``base64url_nopad(sha256(server_url_without_fragment)[:9])`` — one listener path per server,
    so a redirect meant for another server's login can never complete this one.
    """
    digest = hashlib.sha256(_normalized(server_url).encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode().rstrip("=")


def store_key(server_name: str, server_url: str) -> str:
    """The credential key the reference uses: ``<name>|<16 hex of sha256(canonical JSON)>``.

    For an executor-namespaced name (:mod:`rootstep.mcp.credential_names`) 0.169 joins with ``:`` instead:
    ``executor:<b64 env>:<b64 name>:<16 hex>`` (observed in a file the 0.169 app-server wrote).
    """
    payload = json.dumps({"type": "http", "url": server_url, "headers": {}}, separators=(",", ":"), ensure_ascii=False)
    separator = ":" if is_executor_owned(server_name) else "|"
    return f"{server_name}{separator}{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def redirect_uri(callback_url: str | None, port: int, server_url: str) -> str:
    """The redirect URI: ``callback_url`` or ``http://127.0.0.1:<port>/callback``, plus ``/<callback id>``."""
    base = callback_url if callback_url else f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    parts = urlsplit(base)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"invalid MCP OAuth callback URL `{base}`")
    path = parts.path or "/"
    path = f"{path}{callback_id(server_url)}" if path.endswith("/") else f"{path}/{callback_id(server_url)}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, default port dropped."""
    parts = urlsplit(_normalized(url))
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _path(url: str) -> str:
    """The URL path without trailing slashes ("" for the root)."""
    return urlsplit(url).path.rstrip("/")


def protected_resource_candidates(server_url: str) -> list[str]:
    """Where protected-resource metadata may live, in the reference's order.

    The server URL itself first (a 401 there may name the document in ``WWW-Authenticate``),
    then the path-inserted, path-appended and root well-known forms.
    """
    base, path = origin(server_url), _path(server_url)
    urls = [server_url]
    if path:
        urls.append(f"{base}/.well-known/oauth-protected-resource{path}")
        urls.append(f"{base}{path}/.well-known/oauth-protected-resource")
    urls.append(f"{base}/.well-known/oauth-protected-resource")
    return urls


def authorization_server_candidates(issuer_base: str) -> list[tuple[str, str]]:
    """``(metadata URL, issuer it must name)`` for an issuer base, in the reference's order.

    The expected issuer is the URL the well-known location was derived from: the base with its
    path for the path-aware forms, the bare origin for the root forms (RFC 8414 §3).
    """
    base, path = origin(issuer_base), _path(issuer_base)
    if path:
        with_path = f"{base}{path}"
        return [
            (f"{base}/.well-known/oauth-authorization-server{path}", with_path),
            (f"{base}/.well-known/openid-configuration{path}", with_path),
            (f"{base}{path}/.well-known/openid-configuration", with_path),
            (f"{base}/.well-known/oauth-authorization-server", base),
        ]
    return [
        (f"{base}/.well-known/oauth-authorization-server", base),
        (f"{base}/.well-known/openid-configuration", base),
    ]


def issuer_matches(issuer: str, expected: str) -> bool:
    """Simple string comparison (RFC 8414 §3.3), a root issuer's trailing slash tolerated."""
    return issuers_match(issuer, expected)


def resolve_reference(base_url: str, reference: str) -> str:
    """A possibly relative URL (e.g. ``resource_metadata``) resolved against ``base_url``."""
    return urljoin(base_url, reference)


def normalize_scopes(scopes: Iterable[str] | None) -> list[str] | None:
    """Trimmed, de-duplicated, non-empty scopes; None when nothing is left."""
    if scopes is None:
        return None
    out: list[str] = []
    for scope in scopes:
        scope = scope.strip()
        if scope and scope not in out:
            out.append(scope)
    return out or None


def select_scopes(
    explicit: Sequence[str] | None, configured: Sequence[str] | None, discovered: Sequence[str] | None
) -> tuple[list[str], ScopesSource]:
    """explicit request > server config > discovered ``scopes_supported`` > none."""
    if explicit:
        return list(explicit), "explicit"
    if configured:
        return list(configured), "configured"
    found = normalize_scopes(discovered)
    if found:
        return found, "discovered"
    return [], "empty"


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    state: str,
    code_challenge: str,
    redirect: str,
    scopes: Sequence[str],
    resource: str,
    extra_resource: str | None = None,
) -> str:
    """The URL the user opens, with the reference's parameters in the reference's order.

    ``resource`` is the MCP server URL (RFC 8707); a configured ``oauth_resource`` is sent as a
    second ``resource``.
    """
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
        ("redirect_uri", redirect),
    ]
    if scopes:
        params.append(("scope", " ".join(scopes)))
    params.append(("resource", resource))
    if extra_resource and extra_resource.strip():
        params.append(("resource", extra_resource.strip()))
    query = urlencode(params)  # form encoding (space as +), as the reference writes it
    parts = urlsplit(endpoint)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))
