"""The Responses API client: the ``openai`` SDK does HTTP, retries and SSE parsing.

``openai`` is imported on first use (it costs a few hundred ms), so ``initialize`` stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from rootstep.config.model_provider import ModelProviderInfo
from rootstep.model.events import Completed, ModelError, ModelEvent, map_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRequest:
    """One ``POST /responses`` body, before the SDK adds ``stream: true``."""

    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    parallel_tool_calls: bool = False
    prompt_cache_key: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": self.input,
            "tools": self.tools,
            "tool_choice": "auto",
            "parallel_tool_calls": self.parallel_tool_calls,
            "store": False,
            # Reasoning models return their reasoning encrypted, so it can be replayed.
            "include": ["reasoning.encrypted_content"] if self.reasoning else [],
        }
        if self.instructions:
            body["instructions"] = self.instructions
        if self.prompt_cache_key:
            body["prompt_cache_key"] = self.prompt_cache_key
        if self.reasoning:
            body["reasoning"] = self.reasoning
        if self.text:
            body["text"] = self.text
        return body


class ResponsesClient:
    """One client per provider (connection pool shared by every thread using it)."""

    def __init__(self, provider: ModelProviderInfo, *, originator: str = "rootstep") -> None:
        self.provider = provider
        self.originator = originator
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            headers = {"originator": self.originator, **self.provider.headers()}
            self._client = AsyncOpenAI(
                base_url=self.provider.effective_base_url(),
                api_key=self.provider.api_key() or "not-set",
                max_retries=self.provider.max_retries(),
                default_headers=headers,
                default_query=self.provider.query_params or None,
                timeout=None if self.provider.stream_idle_timeout_ms is None
                else max(1.0, self.provider.stream_idle_timeout_ms / 1000),
            )
        return self._client

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Yield mapped events; any transport/API failure becomes :class:`ModelError`.

        HTTP-level retries are the SDK's (``request_max_retries``). A stream that breaks
        before it produced anything is retried up to ``stream_max_retries`` times; once output
        has been surfaced a retry would duplicate it, so the error is final. Cancelling the
        consumer closes the HTTP response at once (the interrupt path).
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
                await anyio.sleep(min(0.2 * 2**attempt, 5.0))

    async def _stream_once(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        import openai

        client = self._sdk()
        body = request.body()
        try:
            # The public ``post`` with ``cast_to=object``: the SDK still does HTTP, retries,
            # auth and SSE decoding, but hands us each event's JSON as a dict instead of
            # building typed models (a third of the per-request cost), and non-standard fields
            # such as ``namespace`` pass through untouched.
            stream = await client.post(
                "/responses",
                cast_to=object,
                body={**body, "stream": True},
                options={
                    "headers": {"accept": "text/event-stream", **request.headers},
                    "security": {"bearer_auth": True},
                },
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.APIStatusError as exc:
            raise ModelError(_status_message(exc), status=exc.status_code) from None
        except openai.APIError as exc:
            # The SDK already retried the request itself; nothing left to retry here.
            raise ModelError(f"model request failed: {exc}") from None
        completed = False
        try:
            async for event in stream:
                mapped = map_event(event)
                if mapped is not None:
                    if isinstance(mapped, Completed):
                        completed = True
                    yield mapped
        except openai.APIError as exc:
            raise _StreamBroken(f"model stream failed: {exc}") from None
        finally:
            with anyio.CancelScope(shield=True):
                await stream.close()
        if not completed:
            raise _StreamBroken("stream disconnected before completion: response.completed was not received")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class _StreamBroken(Exception):
    """The SSE stream ended or failed before ``response.completed``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _status_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message")
    return f"unexpected status {exc.status_code}: {message or exc.message}"
