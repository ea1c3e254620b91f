"""The Responses API client: ``POST /responses`` streamed with httpx2, events read with its
server-sent-event decoder (``httpx2.EventSource``).

Only httpx2 is needed (no ``openai`` SDK, whose import costs ~0.5 s of CPU before a process's
first turn); retries follow Codex: ``request_max_retries`` for the request (connection errors,
408/409/429 and 5xx, honouring ``Retry-After``), ``stream_max_retries`` for a stream that
broke before it produced anything.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2

from rootstep.config.model_provider import ModelProviderInfo
from rootstep.model.events import Completed, ModelError, ModelEvent, map_event
from rootstep.model.request import ModelRequest

log = logging.getLogger(__name__)

# One Responses event (``response.completed`` carries the whole response) may be large; an
# endpoint that streams more than this in one event is broken or hostile.
MAX_EVENT_BYTES = 64 * 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024
RETRY_STATUSES = frozenset({408, 409, 429})


class ResponsesClient:
    """One client per provider (connection pool shared by every thread using it)."""

    def __init__(
        self, provider: ModelProviderInfo, *, originator: str = "rootstep", credentials: Any = None
    ) -> None:
        self.provider = provider
        self.originator = originator
        # () -> AuthState | None: the logged-in account, for providers that need OpenAI auth
        # and have no key of their own (see rootstep.auth).
        self.credentials = credentials
        self._client: httpx2.AsyncClient | None = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            idle = self.provider.stream_idle_timeout_ms
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(None, connect=30.0, read=None if idle is None else max(1.0, idle / 1000)),
                params=self.provider.query_params or None,
            )
        return self._client

    def _headers(self, request: ModelRequest) -> dict[str, str]:
        headers = {
            "accept": "text/event-stream",
            "content-type": "application/json",
            "originator": self.originator,
            **self.provider.headers(),
            **request.headers,
        }
        key = self.provider.api_key()
        if not key and self.provider.requires_openai_auth and self.credentials is not None:
            account = self.credentials()
            if account is not None:
                key = account.bearer() or ""
                headers.update(account.headers())
        if key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Yield mapped events; any transport/API failure becomes :class:`ModelError`.

        A stream that breaks before it produced anything is retried up to
        ``stream_max_retries`` times; once output has been surfaced a retry would duplicate it,
        so the error is final. Cancelling the consumer closes the HTTP response at once (the
        interrupt path).
        """
        attempts = self.provider.stream_retries() + 1
        for attempt in range(attempts):
            produced = False
            try:
                async for event in self._stream_once(request):
                    produced = True
                    yield event
                return
            except _StreamBroken as exc:
                if produced or attempt + 1 >= attempts:
                    raise ModelError(exc.message) from None
                log.warning("model stream broke (%s); retry %d of %d", exc.message, attempt + 1, attempts - 1)
                await anyio.sleep(backoff(attempt))

    async def _open(self, request: ModelRequest) -> httpx2.Response:
        """The streaming response, after the request retries; raises :class:`ModelError`."""
        client = self._http()
        content = json.dumps({**request.body(), "stream": True}).encode()
        url = f"{self.provider.effective_base_url()}/responses"
        retries = self.provider.max_retries()
        for attempt in range(retries + 1):
            last = attempt >= retries
            try:
                response = await client.send(
                    client.build_request("POST", url, content=content, headers=self._headers(request)), stream=True
                )
            except httpx2.TransportError as exc:
                if last:
                    raise ModelError(f"model request failed: {exc or type(exc).__name__}") from None
                await anyio.sleep(backoff(attempt))
                continue
            if response.status_code < 400:
                return response
            try:
                body = await _read_capped(response, MAX_ERROR_BODY_BYTES)
            finally:
                await response.aclose()
            if last or not _retryable(response.status_code):
                raise ModelError(_status_message(response.status_code, body), status=response.status_code)
            await anyio.sleep(_retry_after(response) or backoff(attempt))
        raise AssertionError("unreachable")

    async def _stream_once(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        response = await self._open(request)
        completed = False
        try:
            async for sse in httpx2.EventSource(response, max_event_size=MAX_EVENT_BYTES):
                if not sse.data or sse.data == "[DONE]":
                    continue
                try:
                    event = json.loads(sse.data)
                except ValueError:
                    raise _StreamBroken(f"model stream failed: invalid event data: {sse.data[:200]!r}") from None
                mapped = map_event(event)
                if mapped is not None:
                    if isinstance(mapped, Completed):
                        completed = True
                    yield mapped
        except (httpx2.TransportError, httpx2.SSEError) as exc:
            raise _StreamBroken(f"model stream failed: {exc or type(exc).__name__}") from None
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        if not completed:
            raise _StreamBroken("stream disconnected before completion: response.completed was not received")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: ~0.2 s, 0.4 s, 0.8 s, ... at most 5 s."""
    return min(0.2 * 2.0**attempt, 5.0) * random.uniform(0.9, 1.1)


def _retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after-ms")
    scale = 1000.0
    if raw is None:
        raw, scale = response.headers.get("retry-after"), 1.0
    try:
        value = float(raw) / scale if raw is not None else None
    except ValueError:
        return None
    return min(value, 60.0) if value is not None and value >= 0 else None


async def _read_capped(response: httpx2.Response, cap: int) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= cap:
            break
    return bytes(data[:cap])


class _StreamBroken(Exception):
    """The SSE stream ended or failed before ``response.completed``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _status_message(status: int, body: bytes) -> str:
    """``unexpected status 400: <the API's error message>`` (or the body's text)."""
    message = None
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            message = err["message"]
    if message is None:
        message = body.decode("utf-8", "replace").strip() or "no body"
    return f"unexpected status {status}: {message}"
