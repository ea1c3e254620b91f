"""The app-server's executor environments: ``environments.toml``, thread selections and
``environment/add`` (spec §2.1, §2.10, §3.7).

:class:`EnvironmentsService` owns the process-wide :class:`EnvironmentManager` through one
owner task (the manager's task group is entered and left there), so executors are reaped when
the server ends. It is the ``environments`` service other layers look up (MCP transports,
selected roots readiness).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import Field

from rootstep.app_server.context import RequestContext
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params
from rootstep.protocol.thread import EmptyResponse, EnvironmentSelection

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer
    from rootstep.environments.manager import EnvironmentManager

log = logging.getLogger(__name__)


class EnvironmentAddParams(Params):
    environment_id: str
    exec_server_url: str
    connect_timeout_ms: int | None = Field(default=None, ge=0)


class EnvironmentsService:
    """The server's environments, started on first need and closed with the server."""

    def __init__(self, server: AppServer) -> None:
        from rootstep.config.environments_toml import EnvironmentsTomlError
        from rootstep.environments.manager import EnvironmentManager

        self.error: str | None = None
        try:
            self.manager: EnvironmentManager = EnvironmentManager.from_home(server.config.home)
        except EnvironmentsTomlError as exc:
            # A broken environments.toml leaves the local machine only; the reason is logged
            # and every thread/start that names another environment gets a clear error.
            log.error("environments.toml: %s", exc)
            self.error = str(exc)
            self.manager = EnvironmentManager()
        self.manager.subscribe(self._on_link)
        self._owner: asyncio.Task[None] | None = None
        self._entered: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._early: set[str] = set()  # asked for before the manager was entered

    @staticmethod
    def _on_link(env_id: str, event: str) -> None:
        log.info("environment `%s` %s", env_id, event)

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Enter the manager in an owner task (idempotent; needs a running event loop)."""
        if self._owner is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._entered = asyncio.Event()
        self._stop = asyncio.Event()
        self._owner = loop.create_task(self._own(), name="environments")

    async def _own(self) -> None:
        assert self._entered is not None and self._stop is not None
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

    async def ready(self) -> EnvironmentManager:
        self.start()
        if self._entered is not None:
            await self._entered.wait()
        return self.manager

    async def aclose(self) -> None:
        if self._owner is None or self._stop is None:
            return
        self._stop.set()
        await asyncio.wait({self._owner})

    # --- lookups (sync: readiness is a fact, never a wait) ----------------------------------

    def get(self, env_id: str) -> Any:
        self.start()
        return self.manager.get(env_id)

    def __contains__(self, env_id: object) -> bool:
        return env_id in self.manager

    def ready_for_step(self, env_id: str) -> bool:
        self.start()
        if self._entered is None or not self._entered.is_set():
            self._early.add(env_id)  # started as soon as the manager is up
            return env_id == "local" and self.manager.is_ready(env_id)
        return self.manager.ready_for_step(env_id)

    def start_in_background(self, env_ids: Iterable[str]) -> None:
        """Start these environments now without waiting (thread start: the first step then
        finds them up, or waits only for the rest of their start-up)."""
        self.start()
        for env_id in env_ids:
            if self._entered is not None and self._entered.is_set():
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
        ready = set()
        async with anyio.create_task_group() as group:

            async def settle(env_id: str) -> None:
                if await manager.settle(env_id):
                    ready.add(env_id)

            for env_id in ids:
                group.start_soon(settle, env_id)
        return frozenset(ready)

    def generation(self, env_id: str) -> int:
        return self.manager.generation(env_id)

    # --- thread selections ----------------------------------------------------------------

    def default_selection(self, cwd: str) -> list[EnvironmentSelection]:
        """Every configured environment, default first (spec §2.1)."""
        return [
            EnvironmentSelection(environment_id=env_id, cwd=cwd, runtime_workspace_roots=[cwd])
            for env_id in self.manager.default_environment_ids()
        ]

    def check_selection(self, selection: list[EnvironmentSelection]) -> None:
        for entry in selection:
            if entry.environment_id not in self.manager:
                raise ThreadError(f"unknown turn environment id `{entry.environment_id}`")


async def environment_add(ctx: RequestContext, p: EnvironmentAddParams) -> EmptyResponse:
    service: EnvironmentsService = ctx.server.services["environments"]
    manager = await service.ready()
    timeout = (p.connect_timeout_ms / 1000) if p.connect_timeout_ms else 10.0
    try:
        manager.add_websocket(p.environment_id, p.exec_server_url, connect_timeout=timeout)
    except ValueError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    return EmptyResponse()


def register(server: AppServer) -> None:
    service = EnvironmentsService(server)
    server.services["environments"] = service
    service.start()
    server.manager.default_environments = service.default_selection
    server.manager.check_environments = service.check_selection
    server.methods.add("environment/add", environment_add, EnvironmentAddParams, experimental=True)
