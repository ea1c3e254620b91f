"""OpenAI account credentials: ``$CODEX_HOME/auth.json`` (API key or ChatGPT tokens) and the
ChatGPT tokens a host app hands over in memory (``chatgptAuthTokens``)."""

from rootstep.auth.store import AuthState, AuthStore, jwt_claims

__all__ = ["AuthState", "AuthStore", "jwt_claims"]
