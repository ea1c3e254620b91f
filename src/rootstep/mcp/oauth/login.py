"""One OAuth login for one MCP server (spec §7.1–§7.2).

``perform_login`` does everything that can fail fast — bind the loopback callback, discover
the authorization server, register a client (or take the configured client id), build the
PKCE + state authorization URL — and returns an :class:`OAuthLogin` at once. Its :meth:`wait`
serves the callback until the redirect arrives or the timeout passes, exchanges the code,
stores the tokens, closes the listener and returns a :class:`LoginResult`; it never raises
(except cancellation), so a caller can turn it straight into
``mcpServer/oauthLogin/completed``.

All HTTP goes through the ``httpx2.AsyncClient`` the caller passes — the server's environment's
client — so an executor's proxy applies to discovery, registration and the token exchange.
The SDK supplies the PKCE pair, the metadata/token/registration models and the registration
response checks.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import anyio
import httpx2
from mcp.client.auth import OAuthFlowError, PKCEParameters
from mcp.client.auth.oauth2 import check_registration_usable
from mcp.client.auth.utils import (
    handle_registration_response,
    validate_authorization_response_iss,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import BaseModel, ValidationError

from rootstep.config.mcp_oauth import DEFAULT_LOGIN_TIMEOUT_SECS, InvalidCallbackPort, OAuthSettings
from rootstep.config.mcp_servers import HttpTransport, McpServerConfig
from rootstep.mcp.credential_names import credential_name, is_executor_owned
from rootstep.mcp.oauth.callback import (
    SUCCESS_TEXT,
    CallbackCode,
    CallbackListener,
    CallbackOutcome,
    CallbackProviderError,
    CallbackReply,
)
from rootstep.mcp.oauth.discovery import OAuthDiscovery, configured_headers, discover
from rootstep.mcp.oauth.errors import OAuthError, OAuthLoginError, OAuthUnsupportedServerError
from rootstep.mcp.oauth.registration import ClientRegistration, choose_client
from rootstep.mcp.oauth.response_limit import send_limited
from rootstep.mcp.oauth.store import CredentialStore, StoredCredentials, now_ms, open_credential_store
from rootstep.mcp.oauth.urls import authorization_url, redirect_uri, select_scopes

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_NAME = "Codex"


@dataclass(frozen=True)
class LoginResult:
    """How a login ended: ``error`` is the text for the completed notification."""

    success: bool
    error: str | None = None


class RegistrationRequest(BaseModel):
    """The dynamic-client-registration body (spec §7.2 step 4).

    ``application_type: "native"`` is not in the spec's list but the 0.169 binary sends it
    (observed by ``test_oauth_reference.py``), so we do too.
    """

    client_name: str
    redirect_uris: list[str]
    grant_types: list[str] = ["authorization_code", "refresh_token"]
    token_endpoint_auth_method: str = "none"
    response_types: list[str] = ["code"]
    scope: str | None = None
    application_type: str = "native"


@dataclass(frozen=True)
class _Client:
    client_id: str
    client_secret: str | None = None
    auth_method: str | None = None


def _token_error(response: httpx2.Response) -> str:
    """A token endpoint's refusal without echoing anything but its error fields."""
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        detail = f": {body['error']}"
        if isinstance(body.get("error_description"), str):
            detail += f" ({body['error_description']})"
    return f"token endpoint returned HTTP {response.status_code}{detail}"


def apply_client_auth(
    form: dict[str, str], headers: dict[str, str], client_secret: str | None, method: str | None
) -> None:
    """Public clients send nothing more; a client with a secret uses basic or post as registered."""
    if not client_secret:
        return
    if method == "client_secret_basic":
        pair = f"{quote(form['client_id'], safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_secret"] = client_secret


def credentials_from_token(
    token: OAuthToken,
    *,
    server_name: str,
    server_url: str,
    client_id: str,
    requested_scopes: Sequence[str],
    token_endpoint: str | None,
    client_secret: str | None,
    auth_method: str | None,
    previous: StoredCredentials | None = None,
    issuer: str | None = None,
) -> StoredCredentials:
    """The stored form of a token response: absolute expiry, scopes, what a refresh will need."""
    expires_at = now_ms() + int(token.expires_in) * 1000 if token.expires_in is not None else None
    if token.scope:
        scopes = token.scope.split()
    elif previous is not None:
        scopes = list(previous.scopes)
    else:
        scopes = list(requested_scopes)
    refresh = token.refresh_token or (previous.refresh_token if previous is not None else None)
    extra = previous.model_extra if previous is not None and previous.model_extra else {}
    if issuer is None and previous is not None:
        issuer = previous.issuer
    return StoredCredentials(
        server_name=server_name,
        server_url=server_url,
        issuer=issuer,
        client_id=client_id,
        access_token=token.access_token,
        expires_at=expires_at,
        refresh_token=refresh,
        scopes=scopes,
        token_endpoint=token_endpoint,
        client_secret=client_secret,
        token_endpoint_auth_method=auth_method if client_secret else None,  # only matters with a secret
        executor_owned=True if is_executor_owned(server_name) else None,
        **extra,
    )


class OAuthLogin:
    """A login in progress: the URL to open now, and :meth:`wait` for how it ended."""

    def __init__(
        self,
        *,
        server_name: str,
        server_url: str,
        authorization_url: str,
        listener: CallbackListener,
        state: str,
        pkce: PKCEParameters,
        client: _Client,
        redirect: str,
        scopes: list[str],
        discovery: OAuthDiscovery,
        http_client: httpx2.AsyncClient,
        store: CredentialStore,
        timeout_secs: float,
        credential: str | None = None,
    ) -> None:
        self.server_name = server_name
        # The name the tokens are stored under (executor-namespaced for an executor's server).
        self.credential_name = credential if credential is not None else server_name
        self.server_url = server_url
        self.authorization_url = authorization_url
        self.redirect_uri = redirect
        self.scopes = scopes
        self.client_id = client.client_id
        self.timeout_secs = timeout_secs
        self._listener = listener
        self._state = state
        self._pkce = pkce
        self._client = client
        self._discovery = discovery
        self._http = http_client
        self._store = store
        self._result: LoginResult | None = None
        self._running = False
        self._finished = anyio.Event()
        self._abandon = anyio.CancelScope()

    def __repr__(self) -> str:
        return f"OAuthLogin(server={self.server_name!r}, port={self.callback_port}, done={self._result is not None})"

    @property
    def callback_port(self) -> int:
        return self._listener.port

    @property
    def result(self) -> LoginResult | None:
        return self._result

    async def __aenter__(self) -> OAuthLogin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Abandon the login: close the listener; a waiting :meth:`wait` reports cancellation."""
        if self._result is None and not self._running:
            self._finish(LoginResult(False, "OAuth login was cancelled"))
        self._abandon.cancel()
        await self._listener.aclose()

    def _finish(self, result: LoginResult) -> LoginResult:
        if self._result is None:
            self._result = result
            self._finished.set()
        return self._result

    async def wait(self) -> LoginResult:
        """Serve the callback until it completes or times out; the listener is closed after."""
        if self._result is not None:
            return self._result
        if self._running:
            await self._finished.wait()
            assert self._result is not None
            return self._result
        self._running = True
        try:
            outcome: LoginResult | None = None
            with self._abandon:
                with anyio.move_on_after(self.timeout_secs):
                    outcome = await self._serve()
            if self._abandon.cancelled_caught:
                outcome = LoginResult(False, "OAuth login was cancelled")
            elif outcome is None:
                outcome = LoginResult(False, "timed out waiting for OAuth callback")
        except anyio.get_cancelled_exc_class():
            self._finish(LoginResult(False, "OAuth login was cancelled"))
            raise
        except Exception as exc:  # never leave the notification unsent
            logger.warning("OAuth login for `%s` failed: %s", self.server_name, type(exc).__name__)
            outcome = LoginResult(False, f"OAuth login failed: {exc}")
        finally:
            with anyio.CancelScope(shield=True):
                await self._listener.aclose()
        result = self._finish(outcome)
        if result.success:
            logger.info("OAuth login for MCP server `%s` completed", self.server_name)
        else:
            logger.info("OAuth login for MCP server `%s` failed: %s", self.server_name, result.error)
        return result

    async def _serve(self) -> LoginResult:
        ended: list[LoginResult] = []

        async def handle(outcome: CallbackOutcome) -> CallbackReply:
            if isinstance(outcome, CallbackProviderError):
                ended.append(LoginResult(False, outcome.message()))
                return CallbackReply(400, outcome.message(), True)
            assert isinstance(outcome, CallbackCode)
            try:
                validate_authorization_response_iss(outcome.iss, self._discovery.metadata)
                await self._exchange(outcome.code)
            except Exception as exc:
                message = f"failed to handle OAuth callback: {exc}"
                ended.append(LoginResult(False, message))
                return CallbackReply(400, message, True)
            ended.append(LoginResult(True))
            return CallbackReply(200, SUCCESS_TEXT, True)

        await self._listener.serve(self._state, handle)
        return ended[0]

    async def _exchange(self, code: str) -> None:
        """POST the code + PKCE verifier to the token endpoint and store what comes back."""
        token_endpoint = self._discovery.token_endpoint
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": self._pkce.code_verifier,
            "client_id": self._client.client_id,
            "redirect_uri": self.redirect_uri,
            "resource": self.server_url,
        }
        headers = {"Accept": "application/json"}
        apply_client_auth(form, headers, self._client.client_secret, self._client.auth_method)
        request = self._http.build_request("POST", token_endpoint, data=form, headers=headers)
        response = await send_limited(self._http, request)  # the body is capped (a hostile server)
        if response.status_code not in (200, 201):
            raise OAuthError(_token_error(response))
        try:
            token = OAuthToken.model_validate_json(response.content)
        except ValidationError:
            raise OAuthError("token endpoint returned an invalid token response") from None
        credentials = credentials_from_token(
            token,
            server_name=self.credential_name,
            server_url=self.server_url,
            client_id=self._client.client_id,
            requested_scopes=self.scopes,
            token_endpoint=token_endpoint,
            client_secret=self._client.client_secret,
            auth_method=self._client.auth_method,
            issuer=self._discovery.declared_issuer,
        )
        await self._store.save(credentials)


async def _register(
    http_client: httpx2.AsyncClient,
    discovery: OAuthDiscovery,
    *,
    redirect: str,
    scopes: Sequence[str],
    client_name: str,
) -> _Client:
    endpoint = discovery.metadata.registration_endpoint
    if endpoint is None:
        raise OAuthLoginError("Dynamic client registration not supported")
    body = RegistrationRequest(client_name=client_name, redirect_uris=[redirect], scope=" ".join(scopes) or None)
    request = http_client.build_request(
        "POST", str(endpoint), json=body.model_dump(exclude_none=True), headers={"Accept": "application/json"}
    )
    response = await send_limited(http_client, request)  # the body is capped (a hostile server)
    try:
        info: OAuthClientInformationFull = await handle_registration_response(response)
        check_registration_usable(info)
    except OAuthFlowError as exc:
        raise OAuthLoginError(f"client registration failed: {exc}") from None
    return _Client(info.client_id, info.client_secret, info.token_endpoint_auth_method)


async def perform_login(
    server_name: str,
    config: McpServerConfig,
    *,
    http_client: httpx2.AsyncClient,
    settings: OAuthSettings,
    store: CredentialStore | None = None,
    scopes: Sequence[str] | None = None,
    timeout_secs: float | None = None,
    client_name: str = DEFAULT_CLIENT_NAME,
    client_registration: ClientRegistration | None = None,
) -> OAuthLogin:
    """Start a login; the returned object has ``authorization_url`` and ``await wait()``.

    Raises :class:`OAuthUnsupportedServerError` for a server that is not streamable HTTP and
    :class:`OAuthLoginError` when the flow cannot start (its text follows
    ``failed to login to MCP server '<name>': ``). The listener is closed on any failure here.
    ``http_client`` (the server's environment's client, without MCP auth) is used again by
    ``wait()`` for the code exchange, so it must stay open until ``wait()`` returns.
    ``client_registration`` picks the client strategy (:mod:`.registration`); the tokens are
    stored under :func:`~rootstep.mcp.credential_names.credential_name` of the server's environment.
    """
    transport = config.transport
    if not isinstance(transport, HttpTransport):
        raise OAuthUnsupportedServerError()
    server_url = transport.url
    timeout = max(1.0, float(timeout_secs)) if timeout_secs is not None else DEFAULT_LOGIN_TIMEOUT_SECS
    try:
        port = settings.resolved_callback_port()
    except InvalidCallbackPort as exc:
        raise OAuthLoginError(str(exc)) from None
    try:
        listener = await CallbackListener.bind(port)
    except OSError as exc:
        raise OAuthLoginError(
            f"failed to bind the OAuth callback listener on 127.0.0.1:{port}: {exc.strerror}"
        ) from None
    try:
        try:
            redirect = redirect_uri(settings.callback_url, listener.port, server_url)
        except ValueError as exc:
            raise OAuthLoginError(str(exc)) from None
        listener.path = urlsplit(redirect).path
        try:
            discovery = await discover(http_client, server_url, headers=configured_headers(transport))
        except httpx2.HTTPError as exc:
            raise OAuthLoginError(f"OAuth discovery failed: {type(exc).__name__}: {exc}") from None
        except OAuthError as exc:
            raise OAuthLoginError(str(exc)) from None
        if discovery is None:
            raise OAuthLoginError(f"no OAuth authorization server metadata found for {server_url}")
        metadata = discovery.metadata
        if "code" not in metadata.response_types_supported:
            raise OAuthLoginError("authorization server does not support the `code` response type")
        methods = metadata.code_challenge_methods_supported
        if methods is not None and "S256" not in methods:
            logger.warning("authorization server for `%s` does not advertise PKCE S256; using it anyway", server_name)
        chosen, source = select_scopes(scopes, transport.scopes, discovery.scopes_supported)
        logger.debug("OAuth scopes for `%s` from %s", server_name, source)
        configured_id = transport.oauth.client_id if transport.oauth is not None else None
        choice = choose_client(
            client_registration,
            configured_client_id=configured_id,
            metadata=metadata,
            redirect=redirect,
            server_url=server_url,
        )
        logger.debug("OAuth client for `%s` from %s", server_name, choice.source)
        if choice.client_id is not None:
            client = _Client(choice.client_id)
        else:
            try:
                client = await _register(
                    http_client, discovery, redirect=redirect, scopes=chosen, client_name=client_name
                )
            except httpx2.HTTPError as exc:
                raise OAuthLoginError(f"client registration failed: {type(exc).__name__}: {exc}") from None
        pkce = PKCEParameters.generate()
        state = secrets.token_urlsafe(32)
        url = authorization_url(
            str(metadata.authorization_endpoint),
            client_id=client.client_id,
            state=state,
            code_challenge=pkce.code_challenge,
            redirect=redirect,
            scopes=chosen,
            resource=server_url,
            extra_resource=transport.oauth_resource,
        )
        login = OAuthLogin(
            server_name=server_name,
            server_url=server_url,
            authorization_url=url,
            listener=listener,
            state=state,
            pkce=pkce,
            client=client,
            redirect=redirect,
            scopes=chosen,
            discovery=discovery,
            http_client=http_client,
            store=store if store is not None else open_credential_store(settings),
            timeout_secs=timeout,
            credential=credential_name(server_name, config.environment_id),
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await listener.aclose()
        raise
    logger.info("OAuth login for MCP server `%s`: waiting for the callback on 127.0.0.1:%d", server_name, listener.port)
    return login
