"""Request tasks that outlive one request.

Starting an anyio task costs a task, a cancel scope and an event (about 15 µs with anyio 4.16:
a sizeable share of the app-server's own time on a warm ``mcpServer/tool/call``). A
connection's requests therefore run in worker tasks of its task group: a worker that finished
its request parks (at most ``max_idle`` of them) and the next request is handed to it; with
none parked, a new worker starts. Requests still run concurrently, one per worker, and
cancelling the group cancels every worker, as it cancelled per-request tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

MAX_IDLE = 8

Job = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]


class _Slot:
    __slots__ = ("ready", "job")

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.job: Job | None = None


class WorkerPool:
    def __init__(self, group: TaskGroup, *, max_idle: int = MAX_IDLE) -> None:
        self._group = group
        self._idle: list[_Slot] = []
        self._max_idle = max_idle

    @property
    def idle(self) -> int:
        return len(self._idle)

    def submit(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in a parked worker, or in a new one."""
        if self._idle:
            slot = self._idle.pop()
            slot.job = (fn, args)
            slot.ready.set()
        else:
            self._group.start_soon(self._work, fn, args)

    async def _work(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        while True:
            await fn(*args)
            if len(self._idle) >= self._max_idle:
                return
            slot = _Slot()
            self._idle.append(slot)
            try:
                await slot.ready.wait()
            finally:
                if slot.job is None and slot in self._idle:  # cancelled while parked
                    self._idle.remove(slot)
            assert slot.job is not None
            fn, args = slot.job
