"""The pure decisions of the OAuth flow, pinned to the reference's verified values."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, strategies as st

from rootstep.mcp.oauth.callback import CallbackCode, CallbackInvalid, CallbackProviderError, classify_callback
from rootstep.mcp.oauth.discovery import MetadataResponse, discovery_flow, parse_authorization_server_metadata
from rootstep.mcp.oauth.errors import OAuthDiscoveryError
from rootstep.mcp.oauth.urls import (
    authorization_server_candidates,
    authorization_url,
    callback_id,
    protected_resource_candidates,
    redirect_uri,
    select_scopes,
    store_key,
)

URL = "http://oauth-only.invalid/oauth-mcp"


def test_reference_identifiers() -> None:
    assert callback_id(URL) == "cKNrbV4wkgLf"  # verified on 0.169
    assert callback_id(URL + "#frag") == "cKNrbV4wkgLf"
    assert store_key("oauth-only", URL) == "oauth-only|d0ff4a8aecea8f7a"  # verified on 0.169
    assert redirect_uri(None, 4321, URL) == "http://127.0.0.1:4321/callback/cKNrbV4wkgLf"
    assert redirect_uri("http://localhost:9/cb/", 1, URL) == "http://localhost:9/cb/cKNrbV4wkgLf"
    with pytest.raises(ValueError):
        callback_id("not a url")


def test_candidate_order() -> None:
    assert protected_resource_candidates(URL) == [
        URL,
        "http://oauth-only.invalid/.well-known/oauth-protected-resource/oauth-mcp",
        "http://oauth-only.invalid/oauth-mcp/.well-known/oauth-protected-resource",
        "http://oauth-only.invalid/.well-known/oauth-protected-resource",
    ]
    assert protected_resource_candidates("http://h") == ["http://h", "http://h/.well-known/oauth-protected-resource"]
    assert authorization_server_candidates(URL) == [
        ("http://oauth-only.invalid/.well-known/oauth-authorization-server/oauth-mcp", URL),
        ("http://oauth-only.invalid/.well-known/openid-configuration/oauth-mcp", URL),
        ("http://oauth-only.invalid/oauth-mcp/.well-known/openid-configuration", URL),
        ("http://oauth-only.invalid/.well-known/oauth-authorization-server", "http://oauth-only.invalid"),
    ]
    assert authorization_server_candidates("https://as.example/") == [
        ("https://as.example/.well-known/oauth-authorization-server", "https://as.example"),
        ("https://as.example/.well-known/openid-configuration", "https://as.example"),
    ]


def _run(flow, answers: dict[str, MetadataResponse]):
    asked: list[str] = []
    request = next(flow)
    while True:
        asked.append(str(request.url))
        try:
            request = flow.send(answers.get(str(request.url), MetadataResponse(404)))
        except StopIteration as stop:
            return stop.value, asked


def test_www_authenticate_names_the_resource_metadata_first() -> None:
    meta = (b'{"authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t",'
            b'"scopes_supported":[" x ","x",""]}')
    found, asked = _run(
        discovery_flow(URL),
        {
            URL: MetadataResponse(401, 'Bearer resource_metadata="/custom/prm"'),
            "http://oauth-only.invalid/custom/prm": MetadataResponse(200, body=b'{"resource":"r","authorization_servers":["https://as.example/tenant"]}'),
            "https://as.example/.well-known/oauth-authorization-server/tenant": MetadataResponse(200, body=meta),
        },
    )
    assert asked == [URL, "http://oauth-only.invalid/custom/prm", "https://as.example/.well-known/oauth-authorization-server/tenant"]
    assert found.token_endpoint == "https://as.example/t"
    assert found.scopes_supported == ["x"]
    assert str(found.metadata.issuer).rstrip("/") == "https://as.example/tenant"  # absent issuer = discovery base


def test_nothing_found_is_none() -> None:
    found, asked = _run(discovery_flow("http://h/mcp"), {})
    assert found is None and len(asked) == 4 + 4


def test_metadata_trust_checks() -> None:
    good = b'{"issuer":"http://h/","authorization_endpoint":"http://h/a","token_endpoint":"http://h/t"}'
    assert parse_authorization_server_metadata(good, "http://h") is not None
    assert parse_authorization_server_metadata(b"not json", "http://h") is None
    assert parse_authorization_server_metadata(b'{"issuer":"http://h"}', "http://h") is None
    with pytest.raises(OAuthDiscoveryError, match="issuer"):
        parse_authorization_server_metadata(good, "http://h/tenant")
    with pytest.raises(OAuthDiscoveryError, match="origin"):
        parse_authorization_server_metadata(b'{"authorization_endpoint":"https://h/a","token_endpoint":"http://h/t"}', "http://h")


def test_scope_precedence() -> None:
    assert select_scopes(["e"], ["c"], ["d"]) == (["e"], "explicit")
    assert select_scopes(None, ["c"], ["d"]) == (["c"], "configured")
    assert select_scopes([], None, [" d ", "d", ""]) == (["d"], "discovered")
    assert select_scopes(None, None, [" "]) == ([], "empty")


def test_authorization_url_parameters() -> None:
    url = authorization_url(
        "https://as.example/authorize?tenant=1",
        client_id="cid",
        state="st",
        code_challenge="ch",
        redirect="http://127.0.0.1:1/callback/x",
        scopes=["a", "b"],
        resource=URL,
        extra_resource="https://api.example",
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("as.example", "/authorize")
    assert parse_qsl(parts.query) == [
        ("tenant", "1"),
        ("response_type", "code"),
        ("client_id", "cid"),
        ("state", "st"),
        ("code_challenge", "ch"),
        ("code_challenge_method", "S256"),
        ("redirect_uri", "http://127.0.0.1:1/callback/x"),
        ("scope", "a b"),
        ("resource", URL),
        ("resource", "https://api.example"),
    ]


@pytest.mark.parametrize(
    ("method", "target", "outcome"),
    [
        ("GET", "/cb/id?code=c&state=s", CallbackCode("c")),
        ("GET", "/cb/id?state=s&code=c&extra=1", CallbackCode("c")),
        ("GET", "/cb/id?code=c&state=t", CallbackInvalid()),
        ("GET", "/cb/id?code=c", CallbackInvalid()),
        ("GET", "/cb/id?state=s", CallbackInvalid()),
        ("GET", "/cb/id", CallbackInvalid()),
        ("GET", "/cb?code=c&state=s", CallbackInvalid()),
        ("GET", "/cb/id/?code=c&state=s", CallbackInvalid()),
        ("POST", "/cb/id?code=c&state=s", CallbackInvalid()),
        ("GET", "/cb/id?error=access_denied&error_description=no&state=s",
         CallbackProviderError("access_denied", "no")),
        ("GET", "/cb/id?error=access_denied", CallbackProviderError("access_denied", None)),
        ("GET", "/cb/id?error=access_denied&state=t", CallbackInvalid()),
    ],
)
def test_callback_classification(method: str, target: str, outcome: object) -> None:
    assert classify_callback(method, target, "/cb/id", "s") == outcome


def test_provider_error_text() -> None:
    assert CallbackProviderError("e", "d").message() == "OAuth provider returned `e`: d"
    assert CallbackProviderError("e", None).message() == "OAuth provider returned `e`"
    assert CallbackProviderError(None, "d").message() == "OAuth error: d"


@given(state=st.text(min_size=1, max_size=40),
       expected=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8, max_size=43))
def test_only_the_expected_state_yields_a_code(state: str, expected: str) -> None:
    from urllib.parse import urlencode

    outcome = classify_callback("GET", "/cb/id?" + urlencode({"code": "c", "state": state}), "/cb/id", expected)
    assert isinstance(outcome, CallbackCode) == (state == expected)
