"""``http/request``: HTTP made *by the executor*, with the executor's own proxy variables.

``trust_env=True`` gives the reference behaviour: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/
``NO_PROXY`` and ``SSL_CERT_FILE`` of this process apply. Bodies are passed through raw (no
content decoding), so the orchestrator sees exactly what the upstream sent; a buffered body is
capped at :data:`MAX_BUFFERED_BODY` (streamed ones are not held).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from rootstep.jsonrpc.errors import INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError
from rootstep.protocol.exec_server import (
    HTTP_BODY_DELTA,
    HttpBodyDeltaNotification,
    HttpHeader,
    HttpRequestParams,
    HttpRequestResult,
    b64decode,
    b64encode,
)

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger(__name__)


@dataclass
class AfterResponse:
    """A handler result plus work to start once that result has been written."""

    result: Any
    then: Callable[[], None]

MAX_DELTA = 1024 * 1024
# A buffered (not streamed) body is answered in one line, base64: it is held to this, so one
# request to an endless or huge upstream body cannot fill the executor's memory (the answer
# stays under the 64 MiB line limit); a bigger body is what ``streamResponse`` is for.
MAX_BUFFERED_BODY = 32 * 1024 * 1024

Notify = Callable[[str, Any], Awaitable[None]]


def _headers_of(response: httpx2.Response) -> list[HttpHeader]:
    return [HttpHeader(name=k.decode("latin-1").lower(), value=v.decode("latin-1")) for k, v in response.headers.raw]


async def _read_capped(response: httpx2.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise JsonRpcError(
                INTERNAL_ERROR,
                f"http/request response body exceeds {limit} bytes; use streamResponse for larger bodies",
            )
        parts.append(chunk)
    return b"".join(parts)


class HttpHandler:
    def __init__(self, tg: TaskGroup, notify: Notify) -> None:
        self._tg = tg
        self._notify = notify
        self._client: httpx2.AsyncClient | None = None
        self._active: set[str] = set()

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            import httpx2  # imported on first use: most executors never make HTTP requests

            self._client = httpx2.AsyncClient(trust_env=True, timeout=httpx2.Timeout(None))
        return self._client

    async def request(self, p: HttpRequestParams) -> HttpRequestResult | AfterResponse:
        import httpx2

        try:
            url = httpx2.URL(p.url)
        except Exception as exc:  # httpx2.InvalidURL and friends
            raise JsonRpcError(INVALID_PARAMS, f"http/request invalid URL: {exc}") from None
        if url.scheme not in ("http", "https"):
            raise JsonRpcError(
                INVALID_PARAMS, f"http/request only supports http and https URLs, got {url.scheme or p.url}"
            )
        if not url.host:
            raise JsonRpcError(INVALID_PARAMS, f"http/request invalid URL: {p.url}")
        if p.stream_response and p.request_id in self._active:
            raise JsonRpcError(
                INVALID_PARAMS, f"http/request streamResponse requestId `{p.request_id}` is already active"
            )
        body = b64decode(p.body_base64) if p.body_base64 else None
        timeout = httpx2.Timeout(p.timeout_ms / 1000) if p.timeout_ms else httpx2.Timeout(None)
        client = self._http()
        try:
            request = client.build_request(
                p.method, url, content=body, headers=[(h.name, h.value) for h in p.headers], timeout=timeout
            )
            response = await client.send(request, stream=True, follow_redirects=p.redirect_policy == "follow")
        except httpx2.HTTPError as exc:
            raise JsonRpcError(INTERNAL_ERROR, f"http/request failed: {exc!r}") from None
        except ValueError as exc:
            raise JsonRpcError(INVALID_PARAMS, f"http/request invalid request: {exc}") from None
        if not p.stream_response:
            try:
                data = await _read_capped(response, MAX_BUFFERED_BODY)
            except httpx2.HTTPError as exc:
                raise JsonRpcError(INTERNAL_ERROR, f"http/request failed: {exc!r}") from None
            finally:
                await response.aclose()
            return HttpRequestResult(
                status=response.status_code, headers=_headers_of(response), body_base64=b64encode(data)
            )
        self._active.add(p.request_id)
        result = HttpRequestResult(status=response.status_code, headers=_headers_of(response), body_base64="")

        def stream_body() -> None:
            # The body task starts only once the result line is written: deltas must follow it.
            self._tg.start_soon(self._stream_body, p.request_id, response)

        return AfterResponse(result, stream_body)

    async def _stream_body(self, request_id: str, response: httpx2.Response) -> None:
        """Owner task of one streamed body: deltas with contiguous seq, then done or error."""
        import httpx2

        seq = 0

        async def send(delta: bytes, done: bool, error: str | None) -> None:
            nonlocal seq
            seq += 1
            await self._notify(
                HTTP_BODY_DELTA,
                HttpBodyDeltaNotification(
                    request_id=request_id, seq=seq, delta_base64=b64encode(delta), done=done, error=error
                ),
            )

        try:
            try:
                async for chunk in response.aiter_raw():
                    for start in range(0, len(chunk), MAX_DELTA):
                        await send(chunk[start : start + MAX_DELTA], False, None)
            except httpx2.HTTPError as exc:
                await send(b"", False, f"http/request body failed: {exc!r}")
                return
            await send(b"", True, None)
        except Exception:
            log.debug("http body stream %s abandoned", request_id, exc_info=True)
        finally:
            self._active.discard(request_id)
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            with anyio.CancelScope(shield=True):
                await self._client.aclose()
