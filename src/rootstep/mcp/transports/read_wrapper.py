"""Bases for the read streams our MCP transports hand to the SDK's session.

:class:`MessageStream` gives a stream that implements ``receive()`` (raising ``EndOfStream`` at
its end) and ``aclose()`` the iteration and context-manager protocol the session uses;
:class:`ReadStreamWrapper` wraps another transport's read stream and overrides ``receive`` only.
"""

from __future__ import annotations

from typing import Any, Self

import anyio


class MessageStream:
    async def receive(self) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class ReadStreamWrapper(MessageStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def receive(self) -> Any:
        return await self._inner.receive()

    async def aclose(self) -> None:
        await self._inner.aclose()
