"""Pooled request tasks: concurrent requests each get a worker, finished workers are reused."""

from __future__ import annotations

import anyio
import pytest

from rootstep.app_server.workers import WorkerPool

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_concurrent_jobs_run_at_once_and_workers_are_reused() -> None:
    started: list[int] = []
    tasks: set[object] = set()
    gate = anyio.Event()

    async def job(n: int) -> None:
        started.append(n)
        tasks.add(anyio.get_current_task().id)
        await gate.wait()

    async with anyio.create_task_group() as group:
        pool = WorkerPool(group, max_idle=2)
        for n in range(3):
            pool.submit(job, n)
        await anyio.wait_all_tasks_blocked()
        assert started == [0, 1, 2]  # none waits for another: three workers
        gate.set()
        await anyio.wait_all_tasks_blocked()
        assert pool.idle == 2  # one exited: at most max_idle park

        for n in range(3, 5):
            pool.submit(job, n)
        await anyio.wait_all_tasks_blocked()
        assert started == [0, 1, 2, 3, 4]
        assert len(tasks) == 3  # the parked workers ran the new jobs
        group.cancel_scope.cancel()


async def test_cancelling_the_group_ends_parked_and_busy_workers() -> None:
    forever = anyio.Event()

    async def job() -> None:
        await forever.wait()

    async def quick() -> None:
        return None

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            pool = WorkerPool(group)
            pool.submit(job)
            pool.submit(quick)
            await anyio.wait_all_tasks_blocked()
            assert pool.idle == 1
            group.cancel_scope.cancel()
    assert pool.idle == 0
