"""A base for wrappers around an MCP transport's read stream.

Subclasses override :meth:`receive` only; iteration, closing and the context-manager protocol
delegate to the wrapped stream the same way for all of them.
"""

from __future__ import annotations

from typing import Any

import anyio


class ReadStreamWrapper:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def receive(self) -> Any:
        return await self._inner.receive()

    def __aiter__(self) -> "ReadStreamWrapper":
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> "ReadStreamWrapper":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
