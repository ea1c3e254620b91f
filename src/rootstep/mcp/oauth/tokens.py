"""Stored OAuth tokens in use: the bearer on an MCP server's HTTP requests, and refresh.

:class:`TokenManager` (one per process and credential store) owns every server's token state;
:meth:`TokenManager.auth` gives an ``httpx2.Auth`` for one server to put on that server's
``httpx2.AsyncClient`` (the environment's client, so refresh traffic takes the same route as the
MCP traffic: it is sent by that client as part of the auth flow).

Rules (spec §7.3, issue 6):

* a token within 30 s of expiry is refreshed before the request; a 401 triggers one refresh
  and one retry;
* refreshes are single-flight per server: an in-process lock, then a cross-process lock file,
  then the store is re-read — a token someone else already refreshed is used as is, so a
  (rotating) refresh token is never spent twice;
* a refresh token the authorization server rejects (a 4xx) is dropped from the store and never
  retried: the server "needs login" until the user logs in again (a new login is picked up
  from the store without a restart);
* a transient refresh failure (5xx, bad body) keeps the stored token for the next attempt;
* tokens are never logged.

The refresh transaction is written once, as an async generator that yields the requests to
send (discovery GETs when a stored entry has no token endpoint, then the token POST) and is
sent back their responses; the auth flow and :meth:`TokenManager.access_token` both drive it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
from mcp.shared.auth import OAuthToken
from pydantic import ValidationError

from rootstep.config.mcp_oauth import OAuthSettings
from rootstep.config.mcp_servers import HttpTransport
from rootstep.mcp.credential_names import display_name
from rootstep.mcp.oauth.discovery import configured_headers, discovery_flow, read_metadata_response
from rootstep.mcp.oauth.errors import CredentialStoreError, OAuthError, OAuthLoginRequiredError
from rootstep.mcp.oauth.locks import locked_async, refresh_lock_path
from rootstep.mcp.oauth.login import apply_client_auth, credentials_from_token
from rootstep.mcp.oauth.response_limit import IDENTITY, OAuthResponseTooLarge, read_limited
from rootstep.mcp.oauth.status import has_configured_bearer
from rootstep.mcp.oauth.store import CredentialStore, StoredCredentials, now_ms, open_credential_store
from rootstep.mcp.oauth.urls import store_key

logger = logging.getLogger(__name__)

NOT_LOGGED_IN = "not logged in"


@dataclass(frozen=True)
class _Done:
    """The end of a token transaction: the credentials to use now (None = login required)."""

    credentials: StoredCredentials | None


@dataclass
class ServerTokenState:
    """One server's in-memory token state (shared by every client of that server)."""

    server_name: str
    server_url: str
    key: str
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    cached: StoredCredentials | None = None
    login_required: str | None = None  # why, when the last look found no usable token
    last_error: str | None = None  # a transient refresh failure, for status text
    load_error: str | None = None  # the store could not be read
    refreshes: int = 0  # token requests this process made for the server


TokenStep = AsyncGenerator["httpx2.Request | _Done", "httpx2.Response"]


class TokenManager:
    """Process-wide owner of OAuth token state, keyed like the credential store."""

    def __init__(self, store: CredentialStore, *, codex_home: Path | None = None) -> None:
        self.store = store
        self._lock_home = Path(codex_home) if codex_home is not None else None
        self._servers: dict[str, ServerTokenState] = {}

    @classmethod
    def from_settings(cls, settings: OAuthSettings) -> TokenManager:
        return cls(open_credential_store(settings), codex_home=settings.codex_home)

    def state(self, server_name: str, server_url: str) -> ServerTokenState:
        key = store_key(server_name, server_url)
        st = self._servers.get(key)
        if st is None:
            st = self._servers[key] = ServerTokenState(server_name, server_url, key)
        return st

    def auth(
        self, server_name: str, server_url: str, *, discovery_headers: Mapping[str, str] | None = None
    ) -> OAuthBearerAuth:
        """An ``httpx2.Auth`` adding this server's bearer token (and refreshing it)."""
        return OAuthBearerAuth(self, self.state(server_name, server_url), discovery_headers=discovery_headers)

    def auth_lookup(self, server_name: str, transport: HttpTransport) -> OAuthBearerAuth | None:
        """The ``AuthLookup`` of ``rootstep.mcp.transports.factory``: OAuth for servers without a
        configured bearer (``bearer_token_env_var`` or an ``Authorization`` header), else None.

        ``server_name`` is the credential name (the factory namespaces an executor's server, see
        :mod:`rootstep.mcp.credential_names`), so its tokens are the ones its login stored."""
        if transport.auth != "oauth" or has_configured_bearer(transport):
            return None
        return self.auth(server_name, transport.url, discovery_headers=configured_headers(transport))

    def needs_login(self, server_name: str, server_url: str) -> str | None:
        """Why the last use found no usable token (None when it did, or nothing was tried)."""
        return self.state(server_name, server_url).login_required

    def forget(self, server_name: str, server_url: str) -> None:
        """Drop cached tokens (after a logout), so the next request reads the store."""
        st = self.state(server_name, server_url)
        st.cached, st.login_required, st.last_error = None, None, None

    async def access_token(self, server_name: str, server_url: str, http_client: httpx2.AsyncClient) -> str:
        """A usable access token now, refreshing through ``http_client`` if due.

        Raises :class:`OAuthLoginRequiredError` when the user must log in (again) — a startup
        can call this first to fail with a clear "needs login" status.
        """
        st = self.state(server_name, server_url)
        credentials = await drive(self.transaction(st), http_client)
        if credentials is None:
            raise OAuthLoginRequiredError(display_name(server_name), st.login_required or NOT_LOGGED_IN)
        return credentials.access_token

    @contextlib.asynccontextmanager
    async def _refresh_guard(self, st: ServerTokenState) -> AsyncIterator[None]:
        async with st.lock:
            if self._lock_home is None:
                yield
            else:
                async with locked_async(refresh_lock_path(self._lock_home, st.key)):
                    yield

    async def _load(self, st: ServerTokenState) -> StoredCredentials | None:
        """Re-read the store; an unreadable store reads as "no credentials", with its reason."""
        try:
            st.cached = await self.store.load(st.server_name, st.server_url)
            st.load_error = None
        except CredentialStoreError as exc:
            logger.warning("OAuth credentials for MCP server `%s`: %s", st.server_name, exc)
            st.cached, st.load_error = None, str(exc)
        return st.cached

    def _settle(self, st: ServerTokenState, credentials: StoredCredentials | None, reason: str | None = None) -> _Done:
        if credentials is not None and credentials.is_expired():
            credentials = None
        st.login_required = None if credentials is not None else (reason or st.last_error or NOT_LOGGED_IN)
        return _Done(credentials)

    async def transaction(
        self,
        st: ServerTokenState,
        *,
        rejected_token: str | None = None,
        discovery_headers: Mapping[str, str] | None = None,
    ) -> TokenStep:
        """Yield requests to send, then a :class:`_Done` with the credentials to use.

        ``rejected_token`` is the access token a server just answered 401 to: refresh unless the
        store already holds a different one.
        """
        credentials = st.cached
        if credentials is None or not credentials.is_usable() or rejected_token is not None:
            credentials = await self._load(st)
        if credentials is None:
            yield self._settle(st, None, st.load_error or NOT_LOGGED_IN)
            return
        due = credentials.needs_refresh() or (rejected_token is not None and credentials.access_token == rejected_token)
        if not due:
            yield self._settle(st, credentials)
            return
        if not credentials.can_refresh():
            why = "the access token expired and there is no refresh token"
            if rejected_token is not None:
                why = "the server rejected the access token and there is no refresh token"
            yield self._settle(st, None if rejected_token is not None else credentials, why)
            return

        outcome: StoredCredentials | None = credentials
        reason: str | None = None
        async with self._refresh_guard(st):
            fresh = await self._load(st)
            spent = rejected_token if rejected_token is not None else credentials.access_token
            if fresh is None:
                outcome, reason = None, st.load_error or NOT_LOGGED_IN
            elif fresh.access_token != spent and not fresh.needs_refresh():
                outcome = fresh  # refreshed (or logged in again) by someone else meanwhile
            elif not fresh.can_refresh():
                outcome, reason = None, "the refresh token was rejected; log in again"
            else:
                endpoint = fresh.token_endpoint
                if not endpoint:
                    flow = discovery_flow(st.server_url, discovery_headers, probe_server_url=False)
                    step: httpx2.Request | None = next(flow)
                    while step is not None:
                        response = yield step
                        answer = await read_metadata_response(response)
                        try:
                            step = flow.send(answer)
                        except StopIteration as stop:
                            endpoint = stop.value.token_endpoint if stop.value is not None else None
                            step = None
                        except OAuthError as exc:  # untrustworthy metadata: no refresh, say why
                            st.last_error, step = f"token refresh impossible: {exc}", None
                if not endpoint:
                    st.last_error = st.last_error or "no token endpoint could be discovered for the refresh"
                    outcome = fresh
                else:
                    form = {
                        "grant_type": "refresh_token",
                        "refresh_token": fresh.refresh_token or "",
                        "client_id": fresh.client_id,
                        "resource": st.server_url,
                    }
                    headers = {"Accept": "application/json", **IDENTITY}
                    apply_client_auth(form, headers, fresh.client_secret, fresh.token_endpoint_auth_method)
                    st.refreshes += 1
                    response = yield httpx2.Request("POST", endpoint, data=form, headers=headers)
                    try:
                        await read_limited(response)
                    except OAuthResponseTooLarge as exc:  # a hostile token endpoint: no refresh
                        st.last_error, outcome = f"token refresh failed: {exc}", fresh
                        logger.warning("OAuth refresh for MCP server `%s` failed: %s", st.server_name, exc)
                    else:
                        outcome, reason = await self._apply_refresh(st, fresh, endpoint, response)
        yield self._settle(st, outcome, reason)

    async def _apply_refresh(
        self, st: ServerTokenState, fresh: StoredCredentials, endpoint: str, response: httpx2.Response
    ) -> tuple[StoredCredentials | None, str | None]:
        status = response.status_code
        if status == 200:
            try:
                token = OAuthToken.model_validate_json(response.content)
            except ValidationError:
                st.last_error = "token refresh returned an invalid token response"
                logger.warning("OAuth refresh for `%s`: invalid token response", st.server_name)
                return fresh, None
            renewed = credentials_from_token(
                token,
                server_name=fresh.server_name,
                server_url=fresh.server_url,
                client_id=fresh.client_id,
                requested_scopes=fresh.scopes,
                token_endpoint=endpoint,
                client_secret=fresh.client_secret,
                auth_method=fresh.token_endpoint_auth_method,
                previous=fresh,
            )
            await self.store.save(renewed)
            st.cached, st.last_error = renewed, None
            logger.info("OAuth token for MCP server `%s` refreshed", st.server_name)
            return renewed, None
        if 400 <= status < 500 and status != 429:
            # Rejected: never spend this refresh token again, here or in another process.
            expires_at = min(fresh.expires_at or now_ms(), now_ms())
            marked = fresh.model_copy(update={"refresh_token": None, "expires_at": expires_at})
            await self.store.save(marked)
            st.cached = marked
            logger.warning(
                "OAuth refresh for MCP server `%s` was rejected (HTTP %d); login required", st.server_name, status
            )
            return None, f"the refresh token was rejected (HTTP {status}); log in again"
        st.last_error = f"token refresh failed: HTTP {status}"
        logger.warning("OAuth refresh for MCP server `%s` failed: HTTP %d", st.server_name, status)
        return fresh, None


async def drive(transaction: TokenStep, client: httpx2.AsyncClient) -> StoredCredentials | None:
    """Run a token transaction over ``client`` (outside an auth flow)."""
    try:
        item = await transaction.__anext__()
        while not isinstance(item, _Done):
            response = await client.send(item, stream=True, follow_redirects=False)
            try:
                item = await transaction.asend(response)
            finally:
                await response.aclose()
        return item.credentials
    finally:
        await transaction.aclose()


class OAuthBearerAuth(httpx2.Auth):
    """Adds ``Authorization: Bearer`` for one server; refreshes before expiry and once on 401.

    With no usable token the request goes out without one (the server's 401 becomes the MCP
    error) and :meth:`TokenManager.needs_login` says why.
    """

    requires_request_body = True  # the request may be sent twice (retry after a 401 refresh)
    requires_response_body = False  # never buffer an MCP event stream

    def __init__(
        self, manager: TokenManager, state: ServerTokenState, *, discovery_headers: Mapping[str, str] | None = None
    ) -> None:
        self.manager = manager
        self.state = state
        self._discovery_headers = dict(discovery_headers or {})
        # Set when the server's last answer was a 401 that no token of ours can fix; the
        # transport raises it in place of the SDK's generic "Server returned an error response".
        self.login_error: OAuthLoginRequiredError | None = None

    def _after(self, response: httpx2.Response) -> None:
        st = self.state
        if response.status_code == 401 and st.login_required is not None:
            self.login_error = OAuthLoginRequiredError(
                display_name(st.server_name), st.login_required, reauthentication=st.cached is not None
            )
        elif response.status_code != 401:
            self.login_error = None

    def __repr__(self) -> str:
        return f"OAuthBearerAuth(server={self.state.server_name!r})"

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("OAuthBearerAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        credentials: StoredCredentials | None = None
        last: httpx2.Response | None = None
        for attempt in range(2):
            rejected = credentials.access_token if attempt == 1 and credentials is not None else None
            transaction = self.manager.transaction(
                self.state, rejected_token=rejected, discovery_headers=self._discovery_headers
            )
            side_requests = 0
            try:
                item = await transaction.__anext__()
                while not isinstance(item, _Done):
                    side_requests += 1
                    side_response = yield item
                    item = await transaction.asend(side_response)
            finally:
                await transaction.aclose()
            previous, credentials = credentials, item.credentials
            if attempt == 1 and (
                credentials is None or previous is None or credentials.access_token == previous.access_token
            ):
                if side_requests:
                    # The caller gets the last response of the flow: answer with the server's
                    # own verdict, not the token endpoint's refusal.
                    request.headers.pop("Authorization", None)
                    last = yield request
                if last is not None:
                    self._after(last)
                return  # nothing better to send: the 401 stands
            if credentials is not None:
                request.headers["Authorization"] = f"Bearer {credentials.access_token}"
            else:
                request.headers.pop("Authorization", None)
            response = last = yield request
            self._after(response)
            if response.status_code != 401 or credentials is None:
                return
