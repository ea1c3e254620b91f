"""An ``httpx2`` transport whose requests are made by an executor via ``http/request``.

With it, the MCP SDK's streamable-HTTP client and its OAuth flow reach a server from the
executor's network position, through the executor's own proxy settings. Responses stream:
``streamResponse:true``, body deltas arrive as notifications. Redirects are left to httpx
(the executor is told not to follow them), so auth and cookies see every hop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2

from rootstep.environments.exec_client import ExecServerClient, HttpBodyStream
from rootstep.jsonrpc.errors import ConnectionClosed, JsonRpcError
from rootstep.protocol.exec_server import HttpHeader, HttpRequestParams, b64encode

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class _Body(httpx2.AsyncByteStream):
    def __init__(self, stream: HttpBodyStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except ConnectionError as exc:
            raise httpx2.ReadError(str(exc)) from None

    async def aclose(self) -> None:
        await self._stream.aclose()


class EnvironmentHttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self, acquire: Callable[[], Awaitable[ExecServerClient]]) -> None:
        self._acquire = acquire

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        params = HttpRequestParams(
            method=request.method,
            url=str(request.url),
            headers=[
                HttpHeader(name=k.decode("latin-1"), value=v.decode("latin-1"))
                for k, v in request.headers.raw
                if k.decode("latin-1").lower() not in _HOP_HEADERS
            ],
            body_base64=b64encode(body) if body else None,
            # Like codex's MCP HTTP adapter: no executor-side timeout on a streamed exchange
            # (an SSE stream may idle for minutes); the MCP session bounds its own waits.
            timeout_ms=None,
            redirect_policy="stop",
            request_id="",
            stream_response=True,
        )
        try:
            client = await self._acquire()
            result, stream = await client.http_request(params)
        except ConnectionClosed as exc:
            raise httpx2.ConnectError(exc.message, request=request) from None
        except JsonRpcError as exc:
            raise httpx2.ConnectError(f"{exc.message} (code {exc.code})", request=request) from None
        except ConnectionError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from None
        assert stream is not None
        return httpx2.Response(
            result.status,
            headers=[(h.name, h.value) for h in result.headers],
            stream=_Body(stream),
            request=request,
        )
