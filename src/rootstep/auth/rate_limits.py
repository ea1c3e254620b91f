"""Codex usage limits of a ChatGPT account (``GET {chatgpt_base_url}/wham/usage``)."""

from __future__ import annotations

from typing import Any

from rootstep.auth.store import AuthState
from rootstep.protocol.account import RateLimitSnapshot

DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"


class RateLimitError(Exception):
    pass


def _window(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("used_percent"), (int, float)):
        return None
    seconds = raw.get("limit_window_seconds")
    return {
        "usedPercent": int(raw["used_percent"]),
        "windowDurationMins": int(seconds) // 60 if isinstance(seconds, (int, float)) else None,
        "resetsAt": int(raw["reset_at"]) if isinstance(raw.get("reset_at"), (int, float)) else None,
    }


def snapshot_from_usage(payload: Any) -> RateLimitSnapshot:
    """The backend's usage payload → the wire snapshot of the ``codex`` limit. Pure."""
    payload = payload if isinstance(payload, dict) else {}
    limit = payload.get("rate_limit") if isinstance(payload.get("rate_limit"), dict) else {}
    reached = payload.get("rate_limit_reached_type")
    return RateLimitSnapshot(
        primary=_window(limit.get("primary_window")),
        secondary=_window(limit.get("secondary_window")),
        plan_type=payload.get("plan_type") if isinstance(payload.get("plan_type"), str) else None,
        rate_limit_reached_type=reached.get("type") if isinstance(reached, dict) else None,
    )


async def fetch_rate_limits(account: AuthState, base_url: str | None) -> RateLimitSnapshot:
    import httpx2

    url = (base_url or DEFAULT_CHATGPT_BASE_URL).rstrip("/") + "/wham/usage"
    headers = {"authorization": f"Bearer {account.access_token}", **account.headers()}
    try:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as client:
            response = await client.get(url, headers=headers)
    except httpx2.HTTPError as exc:
        raise RateLimitError(f"error sending request for url ({url})") from exc
    if response.status_code >= 400:
        raise RateLimitError(f"{url} answered {response.status_code}")
    try:
        return snapshot_from_usage(response.json())
    except ValueError as exc:
        raise RateLimitError(f"invalid usage response: {exc}") from exc
