"""The app-server's executor environments: ``environments.toml``, ``environment/add``, and
each thread's view of them.

:class:`EnvironmentsService` owns the process-wide :class:`EnvironmentManager` through one owner
task in the server's task group (the manager's task group is entered and left there), so
executors are reaped when the server ends. It also answers core's environment selection (which
environments a thread gets) and gives each thread its :class:`ThreadEnvironments`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.config.environments_toml import (
    EnvironmentsConfig,
    EnvironmentsTomlError,
    default_ids,
    load_environments_toml,
)
from rootstep.core.manager import ThreadError
from rootstep.protocol.thread import EnvironmentSelection
from rootstep.tools import ThreadView

if TYPE_CHECKING:
    from rootstep.app_server.background import Background
    from rootstep.config import Config
    from rootstep.environments.manager import EnvironmentManager

log = logging.getLogger(__name__)


class EnvironmentsService:
    """The server's environments, started on first need and closed with the server."""

    def __init__(self, config: Config, background: Background) -> None:
        self.background = background
        self.error: str | None = None
        try:
            self.toml = load_environments_toml(config.home)
        except EnvironmentsTomlError as exc:
            # A broken environments.toml leaves the local machine only; the reason is logged
            # and every thread/start that names another environment gets a clear error.
            log.error("environments.toml: %s", exc)
            self.error = str(exc)
            self.toml = EnvironmentsConfig()
        self._manager: EnvironmentManager | None = None
        self._started = False
        self._entered = anyio.Event()
        self._stop = anyio.Event()
        self._finished = anyio.Event()
        self._early: set[str] = set()  # asked for before the manager was entered

    @staticmethod
    def _on_link(env_id: str, event: str) -> None:
        log.info("environment `%s` %s", env_id, event)

    @property
    def manager(self) -> EnvironmentManager:
        """The executors (made at first need: a thread without executor roots never loads the
        exec-server client)."""
        if self._manager is None:
            from rootstep.environments.manager import EnvironmentManager

            self._manager = EnvironmentManager(self.toml)
            self._manager.subscribe(self._on_link)
        return self._manager

    def _ids(self) -> list[str]:
        return self._manager.ids if self._manager is not None else list(self.toml.ids)

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Enter the manager in its owner task, in the server's task group (idempotent; the
        task starts when the server runs)."""
        if not self._started:
            self._started = True
            self.background.start_soon(self._own, name="environments")

    async def _own(self) -> None:
        try:
            async with self.manager:
                self._entered.set()
                for env_id in sorted(self._early):
                    self.manager.ensure_started(env_id)
                await self._stop.wait()
        except Exception:  # noqa: BLE001
            log.exception("environment manager failed")
        finally:
            self._entered.set()
            self._finished.set()

    async def ready(self) -> EnvironmentManager:
        self.start()
        await self._entered.wait()
        return self.manager

    async def aclose(self) -> None:
        """Stop every executor link and reap its process."""
        if not self._started or not self.background.ran:
            return
        self._stop.set()
        await self._finished.wait()

    # --- lookups (sync: readiness is a fact, never a wait) ----------------------------------

    def get(self, env_id: str) -> Any:
        self.start()
        return self.manager.get(env_id)

    def __contains__(self, env_id: object) -> bool:
        return env_id in self._ids()

    def ready_for_step(self, env_id: str) -> bool:
        self.start()
        if not self._entered.is_set():
            self._early.add(env_id)  # started as soon as the manager is up
            return env_id == "local" and self.manager.is_ready(env_id)
        return self.manager.ready_for_step(env_id)

    def start_in_background(self, env_ids: Iterable[str]) -> None:
        """Start these environments now without waiting (thread start: the first step then
        finds them up, or waits only for the rest of their start-up)."""
        self.start()
        for env_id in env_ids:
            if self._entered.is_set():
                self.manager.ensure_started(env_id)
            else:
                self._early.add(env_id)

    async def capture(self, env_ids: Iterable[str], *, wait: bool) -> frozenset[str]:
        """The environments of ``env_ids`` a step may use: with ``wait`` each is started if
        needed and awaited until its start-up is over (bounded by its timeouts; a failed one is
        left out), as 0.169 does for a thread's selected environments; without it (the
        ``deferred_executor`` feature), those ready now, the others started for a later step."""
        ids = list(dict.fromkeys(env_ids))
        if not wait:
            return frozenset(env_id for env_id in ids if self.ready_for_step(env_id))
        manager = await self.ready()
        if all(manager.is_ready(env_id) for env_id in ids):  # the common case: nothing to wait for
            return frozenset(ids)
        ready = set()
        async with anyio.create_task_group() as group:

            async def settle(env_id: str) -> None:
                if await manager.settle(env_id):
                    ready.add(env_id)

            for env_id in ids:
                group.start_soon(settle, env_id)
        return frozenset(ready)

    def generation(self, env_id: str) -> int:
        return self._manager.generation(env_id) if self._manager is not None else 0

    def for_thread(self, thread: ThreadView, *, wait: bool) -> ThreadEnvironments:
        """The thread's environments as its steps see them."""
        return ThreadEnvironments(self, thread, wait=wait)

    # --- thread selections (core's EnvironmentSelector) ------------------------------------

    def default_selection(self, cwd: str) -> list[EnvironmentSelection]:
        """Every configured environment, default first (spec §2.1)."""
        ids = self._manager.default_environment_ids() if self._manager is not None else \
            default_ids(list(self.toml.ids), self.toml.default)
        return [EnvironmentSelection(environment_id=env_id, cwd=cwd, runtime_workspace_roots=[cwd]) for env_id in ids]

    def check(self, selection: list[EnvironmentSelection]) -> None:
        ids = self._ids()
        for entry in selection:
            if entry.environment_id not in ids:
                raise ThreadError(f"unknown turn environment id `{entry.environment_id}`")


class ThreadEnvironments:
    """A thread's ``StepEnvironments``: its current selection (``turn/start.environments``
    replaces it) over the server's environments. Steps wait for the selected environments
    unless ``[features] deferred_executor`` is on."""

    def __init__(self, service: EnvironmentsService, thread: ThreadView, *, wait: bool) -> None:
        self._service, self._thread, self._wait = service, thread, wait

    def selected(self) -> Sequence[str]:
        return self._thread.environment_ids

    def start(self, env_ids: Iterable[str]) -> None:
        self._service.start_in_background(e for e in env_ids if e in self._service)

    async def capture(self, env_ids: Sequence[str]) -> frozenset[str]:
        return await self._service.capture([e for e in env_ids if e in self._service], wait=self._wait)
