"""The SDK's ``TokenStorage`` over a rootstep credential store.

``mcp.client.auth.OAuthClientProvider`` can then read, refresh and save the very credentials
``perform_login`` stored (same ``.credentials.json`` entry or keyring item), for code that wants
the SDK's provider instead of :class:`~rootstep.mcp.oauth.tokens.OAuthBearerAuth`.
"""

from __future__ import annotations

from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from rootstep.mcp.oauth.errors import CredentialStoreError
from rootstep.mcp.oauth.login import credentials_from_token
from rootstep.mcp.oauth.store import CredentialStore, now_ms


class SdkTokenStorage:
    """Implements ``mcp.client.auth.TokenStorage`` for one server.

    A client registered by the SDK is kept in memory until its first tokens arrive (the entry
    format stores the client with the tokens).
    """

    def __init__(self, store: CredentialStore, server_name: str, server_url: str) -> None:
        self.store = store
        self.server_name = server_name
        self.server_url = server_url
        self._client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        stored = await self.store.load(self.server_name, self.server_url)
        if stored is None:
            return None
        expires_in = None if stored.expires_at is None else max(0, (stored.expires_at - now_ms()) // 1000)
        return OAuthToken(
            access_token=stored.access_token,
            expires_in=expires_in,
            refresh_token=stored.refresh_token,
            scope=" ".join(stored.scopes) or None,
        )

    async def set_tokens(self, tokens: OAuthToken) -> None:
        previous = await self.store.load(self.server_name, self.server_url)
        client = self._client or (await self.get_client_info())
        if client is None:
            raise CredentialStoreError(f"no OAuth client is known for MCP server `{self.server_name}`")
        await self.store.save(
            credentials_from_token(
                tokens,
                server_name=self.server_name,
                server_url=self.server_url,
                client_id=client.client_id,
                requested_scopes=(tokens.scope or "").split(),
                token_endpoint=previous.token_endpoint if previous is not None else None,
                client_secret=client.client_secret,
                auth_method=client.token_endpoint_auth_method,
                previous=previous if previous is not None and previous.client_id == client.client_id else None,
            )
        )

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        if self._client is not None:
            return self._client
        stored = await self.store.load(self.server_name, self.server_url)
        if stored is None or not stored.client_id.strip():
            return None
        return OAuthClientInformationFull(
            client_id=stored.client_id,
            client_secret=stored.client_secret,
            token_endpoint_auth_method=stored.token_endpoint_auth_method,
        )

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._client = client_info
