"""A byte cap on every response an OAuth server sends us.

Metadata documents, dynamic registration answers and token responses are small JSON
documents, but the server that sends them is not trusted: a chunked answer without end, a
``Content-Length`` that lies, or a gzip bomb must not fill the app-server's memory. So before
anything reads an OAuth response, :func:`limit_response` puts a cap on its body stream: every
later read — ours, the ``mcp`` SDK's, or httpx's own at the end of an auth flow — gets at most
``limit + 1`` bytes, and the connection is closed at that point. Bodies are read as sent (we ask
for ``Accept-Encoding: identity``; a body compressed anyway is not decompressed, so it cannot
expand past the cap, and parses as the garbage it then is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

from .errors import OAuthError

MAX_OAUTH_RESPONSE_BYTES = 1 << 20
IDENTITY = {"Accept-Encoding": "identity"}


class OAuthResponseTooLarge(OAuthError):
    def __init__(self, url: str, limit: int) -> None:
        super().__init__(f"OAuth response from {url} exceeds {limit} bytes")


class _CappedStream(httpx2.AsyncByteStream):
    """At most ``limit + 1`` bytes of ``inner``; then the inner stream is closed."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self._limit + 1
        async for chunk in self._inner:
            if len(chunk) >= left:
                yield chunk[:left]
                return
            left -= len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def limit_response(response: httpx2.Response, limit: int = MAX_OAUTH_RESPONSE_BYTES) -> None:
    """Cap every later read of ``response``'s body at ``limit + 1`` undecoded bytes (in place).

    Call it before the body is read (a response got with ``stream=True``, or one an auth flow
    receives)."""
    if "content-encoding" in response.headers:
        del response.headers["content-encoding"]
    if isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = _CappedStream(response.stream, limit)


async def read_limited(response: httpx2.Response, limit: int = MAX_OAUTH_RESPONSE_BYTES) -> bytes:
    """The body (at most ``limit`` bytes); :class:`OAuthResponseTooLarge` past that."""
    limit_response(response, limit)
    body = await response.aread()
    if len(body) > limit:
        raise OAuthResponseTooLarge(str(response.request.url), limit)
    return body


async def send_limited(
    client: httpx2.AsyncClient, request: httpx2.Request, limit: int = MAX_OAUTH_RESPONSE_BYTES
) -> httpx2.Response:
    """Send ``request`` without auth or redirects and return the response with its body read
    under the cap (closed). Raises :class:`OAuthResponseTooLarge`."""
    for name, value in IDENTITY.items():
        request.headers[name] = value
    response = await client.send(request, stream=True, follow_redirects=False, auth=None)
    try:
        await read_limited(response, limit)
    finally:
        await response.aclose()
    return response
