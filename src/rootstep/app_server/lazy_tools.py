"""A thread's tools provider built on first use.

Building the real MCP provider imports the ``mcp`` SDK (~1 s of CPU on a small machine). A
thread that selects no roots and has no MCP servers has nothing to start at ``thread/start``,
so its provider is built when something first needs it — the first step, a status list, a
reload — and the first ``thread/start`` after ``initialize`` answers without those imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LazyToolsProvider:
    """Stands in for the provider ``build()`` makes; every attribute but the two thread-start
    hooks (nothing to start, nothing required) and ``aclose`` builds it and delegates."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Callable[[], Any] | None = build
        self._real: Any = None

    @property
    def built(self) -> bool:
        return self._real is not None

    def materialize(self) -> Any:
        if self._real is None:
            assert self._build is not None
            self._real, self._build = self._build(), None
        return self._real

    async def prestart(self) -> None:
        if self._real is not None:
            await self._real.prestart()

    async def validate_required_servers(self) -> None:
        if self._real is not None:
            await self._real.validate_required_servers()

    async def aclose(self) -> None:
        if self._real is not None:
            await self._real.aclose()
        self._build = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_build", "_real"):
            raise AttributeError(name)
        return getattr(self.materialize(), name)
