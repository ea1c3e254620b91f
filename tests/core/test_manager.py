"""ThreadManager decisions that need no model: who gets a tools provider, listing, unloading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from rootstep.config import load_config
from rootstep.core.manager import SettingsOverrides, ThreadManager
from rootstep.tools import ThreadTools, ThreadToolsContext


def test_only_loaded_threads_get_a_tools_provider(tmp_path: Path) -> None:
    made: list[str] = []
    closed: list[str] = []

    class Provider(ThreadTools):
        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

        async def aclose(self) -> None:
            closed.append(self.thread_id)

    def factory(context: ThreadToolsContext) -> Provider:
        made.append(context.thread_id)
        return Provider(context.thread_id)

    async def emit(_: Any) -> None:
        return None

    async def main() -> None:
        manager = ThreadManager(load_config(tmp_path), emit=emit, tools_factory=factory)
        first = manager.start_thread(SettingsOverrides(cwd=str(tmp_path)))
        second = manager.start_thread(SettingsOverrides(cwd=str(tmp_path)))
        assert made == [first.id, second.id]
        assert await manager.unload_thread(first.id)
        assert closed == [first.id]
        # looking at stored threads starts nothing
        listed = manager.list_threads(cursor=None, limit=None)
        assert {t.id for t in listed.threads} == {first.id, second.id}
        assert manager.read_thread(first.id, include_turns=True).status.type == "notLoaded"
        fork = manager.fork_thread(first.id, SettingsOverrides())
        assert made == [first.id, second.id, fork.id]
        resumed = manager.resume_thread(first.id, SettingsOverrides())
        assert made[-1] == resumed.id == first.id
        await manager.aclose()
        assert sorted(closed) == sorted([first.id, second.id, fork.id, first.id])

    anyio.run(main)
