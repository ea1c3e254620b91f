"""Model providers (``[model_providers.<id>]``), with the built-in ``openai`` provider."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

OPENAI_BASE_URL = "https://api.openai.com/v1"


class ModelProviderInfo(BaseModel):
    """One provider as written in config.toml (snake_case keys)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = ""
    base_url: str | None = None
    wire_api: str = "responses"
    env_key: str | None = None
    env_key_instructions: str | None = None
    experimental_bearer_token: str | None = None
    query_params: dict[str, str] | None = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    request_max_retries: int | None = None
    stream_max_retries: int | None = None
    stream_idle_timeout_ms: int | None = None
    requires_openai_auth: bool = False
    supports_websockets: bool = False

    def effective_base_url(self) -> str:
        return (self.base_url or OPENAI_BASE_URL).rstrip("/")

    def max_retries(self) -> int:
        """Request retries (Codex default 4); the openai SDK does the retrying."""
        return 4 if self.request_max_retries is None else max(0, min(self.request_max_retries, 100))

    def stream_retries(self) -> int:
        """Re-tries of a stream that broke before any output (Codex default 5)."""
        return 5 if self.stream_max_retries is None else max(0, min(self.stream_max_retries, 100))

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        if self.experimental_bearer_token:
            return self.experimental_bearer_token
        if self.env_key:
            return env.get(self.env_key, "")
        if self.requires_openai_auth:
            return env.get("OPENAI_API_KEY", "")
        return ""

    def headers(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        env = os.environ if env is None else env
        out = dict(self.http_headers or {})
        for header, var in (self.env_http_headers or {}).items():
            value = env.get(var, "").strip()
            if value:
                out[header] = value
        return out


def builtin_providers() -> dict[str, ModelProviderInfo]:
    return {
        "openai": ModelProviderInfo(
            name="OpenAI",
            base_url=os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL,
            env_key="OPENAI_API_KEY",
            requires_openai_auth=True,
        ),
    }


def parse_providers(raw: Any) -> tuple[dict[str, ModelProviderInfo], list[str]]:
    """Providers from the ``model_providers`` table, plus warnings for the ones skipped."""
    providers = builtin_providers()
    warnings: list[str] = []
    if not isinstance(raw, dict):
        return providers, warnings
    for pid, table in raw.items():
        if not isinstance(table, dict):
            warnings.append(f"model_providers.{pid}: expected a table")
            continue
        try:
            info = ModelProviderInfo.model_validate(table)
        except ValueError as exc:
            warnings.append(f"model_providers.{pid}: {exc}")
            continue
        if info.wire_api != "responses":
            warnings.append(f"model_providers.{pid}: wire_api {info.wire_api!r} is not supported (only 'responses')")
            continue
        providers[pid] = info
    return providers, warnings

