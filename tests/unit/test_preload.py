"""Background imports (rootstep.preload): the event loop keeps serving while it waits for one,
and imports kept back for a response start when it is sent or when something needs them."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from rootstep.preload import _Preloader


@pytest.fixture
def slow_modules(tmp_path: Path) -> Iterator[list[str]]:
    names = [f"_rootstep_slow_{i}_{time.monotonic_ns()}" for i in range(2)]
    for name in names:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
            import time
            time.sleep(0.3)
        """))
    sys.path.insert(0, str(tmp_path))
    try:
        yield names
    finally:
        sys.path.remove(str(tmp_path))
        for name in names:
            sys.modules.pop(name, None)


def test_ready_leaves_the_event_loop_serving(slow_modules: list[str]) -> None:
    preloader = _Preloader()
    ticks: list[float] = []

    async def main() -> float:
        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            preloader.start(slow_modules[:1])
            started = time.monotonic()
            await preloader.ready(slow_modules[0])
            waited = time.monotonic() - started
            tg.cancel_scope.cancel()
        return waited

    waited = anyio.run(main)
    assert slow_modules[0] in sys.modules
    assert waited >= 0.2
    assert len(ticks) >= 10  # the loop ran other tasks while the import went on


def test_kept_back_imports_start_at_release(slow_modules: list[str]) -> None:
    preloader = _Preloader()
    preloader.start_later(slow_modules[:1])
    time.sleep(0.05)
    assert slow_modules[0] not in sys.modules
    preloader.release()
    preloader.wait(slow_modules[0])
    assert slow_modules[0] in sys.modules


def test_waiting_for_a_kept_back_import_starts_it(slow_modules: list[str]) -> None:
    preloader = _Preloader()
    preloader.start_later(slow_modules)
    preloader.wait(slow_modules[1])  # does not hang: needed now, so started now
    assert all(name in sys.modules for name in slow_modules)


def test_ready_costs_nothing_once_imported(slow_modules: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    preloader = _Preloader()
    preloader.start(slow_modules[:1])
    preloader.wait()

    def no_thread_hop(*args: object, **kwargs: object) -> None:
        raise AssertionError("ready() went to a worker thread with nothing left to wait for")

    monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread_hop)
    anyio.run(preloader.ready, slow_modules[0])
    anyio.run(preloader.ready)


def test_a_burst_of_waiters_shares_one_worker_thread(slow_modules: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of requests during the imports must not start a thread each (a server under a
    memory ceiling could not start them)."""
    preloader = _Preloader()
    hops: list[int] = []
    real = anyio.to_thread.run_sync

    async def counting(*args: object, **kwargs: object) -> object:
        hops.append(1)
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)

    async def main() -> None:
        preloader.start(slow_modules)
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(preloader.ready)

    anyio.run(main)
    assert all(name in sys.modules for name in slow_modules)
    assert 1 <= len(hops) <= 2  # the first waiter's thread; at most one more after it returns
