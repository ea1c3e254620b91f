"""MCP OAuth: login, token storage, bearer + refresh, auth status (spec §7, §8).

Public surface::

    settings = OAuthSettings(codex_home, credentials_store="file", callback_port=None, callback_url=None)
    login = await perform_login(name, config, http_client=env_client, settings=settings,
                                scopes=None, timeout_secs=None)
    login.authorization_url            # answer the request with it at once
    result = await login.wait()        # LoginResult(success, error) -> oauthLogin/completed

    tokens = TokenManager.from_settings(settings)          # one per process
    client = env.http_client(auth=tokens.auth(name, url))  # bearer + refresh on that server
    TransportFactory(..., auth=tokens.auth_lookup)         # the same, as the factory's AuthLookup
    tokens.needs_login(name, url)                          # why a server needs login, or None

    await auth_status(name, config, store=tokens.store, http_client=env_client)
    perform_login(..., client_registration="auto" | "cimd" | "dcr")   # 0.169's strategy (registration.py)
    credential_name(name, environment_id)   # an executor's server: "executor:<b64 env>:<b64 name>"
    await delete_credentials(settings, name, url); tokens.forget(name, url)   # logout
"""

from rootstep.config.mcp_oauth import CredentialsStoreMode, OAuthSettings
from rootstep.mcp.credential_names import (
    credential_name,
    display_name,
    is_executor_owned,
)
from rootstep.mcp.oauth.callback import CallbackListener, classify_callback
from rootstep.mcp.oauth.discovery import OAuthDiscovery, configured_headers, discover
from rootstep.mcp.oauth.errors import (
    CredentialStoreError,
    OAuthDiscoveryError,
    OAuthError,
    OAuthLoginError,
    OAuthLoginRequiredError,
    OAuthUnsupportedServerError,
)
from rootstep.mcp.oauth.login import LoginResult, OAuthLogin, perform_login
from rootstep.mcp.oauth.registration import ClientRegistration, client_metadata_url
from rootstep.mcp.oauth.sdk import SdkTokenStorage
from rootstep.mcp.oauth.status import McpAuthStatus, auth_status
from rootstep.mcp.oauth.store import (
    CredentialStore,
    FileCredentialStore,
    KeyringCredentialStore,
    StoredCredentials,
    delete_credentials,
    keyring_available,
    open_credential_store,
)
from rootstep.mcp.oauth.tokens import OAuthBearerAuth, TokenManager
from rootstep.mcp.oauth.urls import callback_id, store_key

__all__ = [
    "CallbackListener",
    "ClientRegistration",
    "CredentialStore",
    "CredentialStoreError",
    "CredentialsStoreMode",
    "FileCredentialStore",
    "KeyringCredentialStore",
    "LoginResult",
    "McpAuthStatus",
    "OAuthBearerAuth",
    "OAuthDiscovery",
    "OAuthDiscoveryError",
    "OAuthError",
    "OAuthLogin",
    "OAuthLoginError",
    "OAuthLoginRequiredError",
    "OAuthSettings",
    "OAuthUnsupportedServerError",
    "SdkTokenStorage",
    "StoredCredentials",
    "TokenManager",
    "auth_status",
    "callback_id",
    "classify_callback",
    "client_metadata_url",
    "credential_name",
    "configured_headers",
    "delete_credentials",
    "discover",
    "display_name",
    "is_executor_owned",
    "keyring_available",
    "open_credential_store",
    "perform_login",
    "store_key",
]
