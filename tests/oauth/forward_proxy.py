"""A tiny HTTP forward proxy on 127.0.0.1 for tests: ``HTTP_PROXY=<url>`` routes through it.

One request per connection (``Connection: close`` is forced upstream), plain ``http://`` targets
on loopback only — anything else is answered 403, so a test can never reach outside the machine.
Every absolute target it forwarded is recorded in :attr:`ForwardProxy.seen`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import anyio
from anyio.abc import SocketAttribute, SocketStream

MAX_HEAD = 64 * 1024


class ForwardProxy:
    def __init__(self) -> None:
        self.port = 0
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, client: SocketStream) -> None:
        async with client:
            head = b""
            while b"\r\n\r\n" not in head:
                try:
                    chunk = await client.receive(65536)
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                head += chunk
                if len(head) > MAX_HEAD:
                    return
            head, rest = head.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            parts = urlsplit(target)
            if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
                await client.send(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                return
            self.seen.append(target)
            headers = [h for h in lines[1:]
                       if h.split(":", 1)[0].strip().lower() not in ("connection", "proxy-connection", "keep-alive")]
            origin_form = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            upstream_head = "\r\n".join(
                [f"{method} {origin_form} {version}", *headers, "Connection: close", "", ""]).encode("latin-1")
            try:
                upstream = await anyio.connect_tcp(parts.hostname, parts.port or 80)
            except OSError:
                await client.send(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                return
            async with upstream, anyio.create_task_group() as tg:
                await upstream.send(upstream_head + rest)

                async def client_to_upstream() -> None:
                    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                        while True:
                            await upstream.send(await client.receive(65536))

                tg.start_soon(client_to_upstream)
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    while True:
                        await client.send(await upstream.receive(65536))
                tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def forward_proxy() -> AsyncIterator[ForwardProxy]:
    proxy = ForwardProxy()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    proxy.port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, proxy._handle)
        try:
            yield proxy
        finally:
            tg.cancel_scope.cancel()
