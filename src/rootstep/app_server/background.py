"""The app-server's task group for work that outlives any one request.

MCP server supervisors, executor links and OAuth login waits run here, so leaving
:meth:`rootstep.app_server.server.AppServer.running` ends every one of them. Work started before
the server runs (services are built first) is queued and started when the group opens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
from anyio.abc import TaskGroup

log = logging.getLogger(__name__)


async def _guarded(func: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """A background failure is logged; it must not take the server (and every thread) down."""
    try:
        await func(*args)
    except anyio.get_cancelled_exc_class():
        raise
    except Exception:  # noqa: BLE001
        log.exception("background task %s failed", getattr(func, "__qualname__", func))


class Background:
    """A handle on the server's task group (``start`` / ``start_soon`` as anyio's)."""

    def __init__(self) -> None:
        self._group: TaskGroup | None = None
        self._queued: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], str | None]] = []
        self._closed = False

    @property
    def ran(self) -> bool:
        """The server's task group was attached at some point (queued work has started)."""
        return self._group is not None or self._closed

    def attach(self, group: TaskGroup) -> None:
        """The server is running: start what was queued."""
        self._group = group
        queued, self._queued = self._queued, []
        for func, args, name in queued:
            group.start_soon(_guarded, func, *args, name=name)

    def detach(self) -> None:
        self._group = None
        self._closed = True

    def start_soon(self, func: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> None:
        """Run ``func(*args)`` in the server's task group (a failure is logged, not raised)."""
        if self._closed:
            raise RuntimeError("the app-server is shutting down")
        if self._group is None:
            self._queued.append((func, args, name))
        else:
            self._group.start_soon(_guarded, func, *args, name=name)

    async def start(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str | None = None
    ) -> Any:
        """Start ``func`` and wait until it calls ``task_status.started()``."""
        if self._group is None:
            raise RuntimeError("the app-server is not running")
        return await self._group.start(func, *args, name=name)
