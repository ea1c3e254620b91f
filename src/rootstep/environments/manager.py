"""``EnvironmentManager``: every configured environment, started lazily, readiness as a fact.

* ``local`` is in-process and always ready.
* A stdio executor is spawned by its first use (``ensure_started`` or any call through its
  ``RemoteEnvironment``). If it fails to start, or dies later, it stays failed and is
  reported (``status``); it is never respawned — only ``add_websocket``/a new manager replaces
  it.
* A websocket executor starts connecting at once; a link that failed to start, or was up and
  dropped, is dialled again by the next use (as codex 0.169 does at every step that needs it).
* ``add_websocket`` adds or replaces an id with a new instance (``environment/add``).

Each remote instance has one owner task in the manager's task group; ``aclose`` stops them
all and reaps every executor process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import anyio
from anyio.abc import TaskGroup

from rootstep.config.environments_toml import (
    LOCAL_ID,
    EnvironmentsConfig,
    EnvironmentSpec,
    default_ids,
    load_environments_toml,
)
from rootstep.environments.base import Environment
from rootstep.environments.exec_client import ExecServerClient
from rootstep.environments.links import ExecutorStartError, open_stdio_link, open_websocket_link
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.remote import EnvironmentUnavailable, RemoteEnvironment

log = logging.getLogger(__name__)

StatusName = Literal["ready", "pending", "disconnected", "unknown"]
Listener = Callable[[str, Literal["connected", "disconnected"]], None]


@dataclass(frozen=True)
class EnvironmentStatus:
    """What app-server ``environment/status`` reports."""

    status: StatusName
    error: str | None = None


class _Instance:
    """One remote environment instance and the state of its link."""

    def __init__(self, spec: EnvironmentSpec, manager: EnvironmentManager) -> None:
        self.spec = spec
        self.manager = manager
        self.client: ExecServerClient | None = None
        self.error: str | None = None
        self.ever_started = False  # a startup attempt has been launched
        self.startup_finished = False  # the first attempt is over (success or failure), forever
        self.startup_failed = False
        self.attempt_done = anyio.Event()
        self.running = False  # an owner task is alive
        self.owner_done = anyio.Event()  # that task has ended (its link reaped)
        self.stop = anyio.Event()
        self.environment = RemoteEnvironment(spec.id, self.acquire)

    @property
    def connected(self) -> bool:
        return self.client is not None and not self.client.closed

    def _link(self) -> AbstractAsyncContextManager[ExecServerClient]:
        s = self.spec
        if s.program is not None:
            return open_stdio_link(
                s.program, s.args, env=dict(s.env), cwd=s.cwd, initialize_timeout=s.initialize_timeout_sec, name=s.id
            )
        assert s.url is not None
        return open_websocket_link(
            s.url, connect_timeout=s.connect_timeout_sec, initialize_timeout=s.initialize_timeout_sec, name=s.id
        )

    def can_start(self) -> bool:
        if self.running or self.stop.is_set():
            return False
        if not self.ever_started:
            return True
        # A stdio executor is spawned once (a failure is final, as in 0.169); a websocket link
        # is dialled again whenever it is needed and down.
        return self.spec.url is not None

    @property
    def startup_budget(self) -> float:
        """How long one start-up attempt may take: the link's own timeouts, plus a margin."""
        s = self.spec
        connect = s.connect_timeout_sec if s.url is not None else 0.0
        return connect + s.initialize_timeout_sec + 1.0

    async def settle(self) -> bool:
        """Start if needed and wait for the attempt to finish (bounded); True if connected."""
        if self.connected:
            return True
        if self.stop.is_set():
            return False
        self.start()
        if self.running:
            with anyio.move_on_after(self.startup_budget):
                await self.attempt_done.wait()
        return self.connected

    def start(self) -> None:
        if self.can_start():
            self.ever_started = True
            self.running = True
            self.attempt_done = anyio.Event()
            self.owner_done = anyio.Event()
            self.manager._task_group().start_soon(self._own)

    async def _own(self) -> None:
        """Owner task of the link: open it, hold it until stopped or dead, then reap."""
        try:
            async with self._link() as client:
                self.client = client
                self.error = None
                self.startup_finished = True
                self.attempt_done.set()
                self.manager._emit(self.spec.id, "connected")
                async with anyio.create_task_group() as tg:

                    async def watch_stop() -> None:
                        await self.stop.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(watch_stop)
                    await client.closed_event.wait()
                    tg.cancel_scope.cancel()
                if not self.stop.is_set():
                    self.error = client.failure or "exec-server transport disconnected"
                    log.warning("environment `%s` disconnected: %s", self.spec.id, self.error)
                    self.manager._emit(self.spec.id, "disconnected")
        except ExecutorStartError as exc:
            self.error = str(exc)
            self.startup_failed = not self.startup_finished
            log.warning("environment `%s` failed to start: %s", self.spec.id, self.error)
        except Exception as exc:  # never let one executor take the manager down
            self.error = f"exec-server connection attempt failed: {exc}"
            self.startup_failed = not self.startup_finished
            log.exception("environment `%s` link failed", self.spec.id)
        finally:
            self.startup_finished = True
            self.running = False
            self.attempt_done.set()
            self.owner_done.set()

    async def acquire(self) -> ExecServerClient:
        """A live client, starting the executor if this is its first use."""
        client = self.client
        if client is not None and not client.closed:
            return client
        if self.stop.is_set():
            raise EnvironmentUnavailable(f"environment `{self.spec.id}` is shut down")
        if self.running and self.attempt_done.is_set():
            # A link that just died is still being reaped by its owner; a new attempt (where
            # one is allowed) starts after it, not instead of it.
            await self.owner_done.wait()
        self.start()
        if self.running:
            await self.attempt_done.wait()
        client = self.client
        if client is not None and not client.closed:
            return client
        raise EnvironmentUnavailable(self.error or f"environment `{self.spec.id}` is not available")

    def status(self) -> EnvironmentStatus:
        if self.connected:
            return EnvironmentStatus("ready")
        if not self.startup_finished:
            return EnvironmentStatus("pending")
        return EnvironmentStatus("disconnected", self.error or "exec-server transport disconnected")

    async def aclose(self) -> None:
        self.stop.set()
        with anyio.move_on_after(10):
            while self.running:
                await anyio.sleep(0.01)


class EnvironmentManager:
    """Use as ``async with EnvironmentManager(config) as environments: …``."""

    def __init__(self, config: EnvironmentsConfig | None = None, *, local_cwd: str | None = None) -> None:
        self.config = config or EnvironmentsConfig()
        self._local = LocalEnvironment(LOCAL_ID, default_cwd=local_cwd) if self.config.include_local else None
        self._instances: dict[str, _Instance] = {}
        self._retired: list[_Instance] = []
        self._tg: TaskGroup | None = None
        self._listeners: list[Listener] = []
        self._generations: dict[str, int] = {}
        self.default_id = self.config.default
        for spec in self.config.environments:
            self._instances[spec.id] = _Instance(spec, self)

    @classmethod
    def from_home(cls, codex_home: str | os.PathLike[str], *, local_cwd: str | None = None) -> EnvironmentManager:
        """From ``$CODEX_HOME/environments.toml`` (or the legacy provider when it is absent).
        Raises ``EnvironmentsTomlError`` naming file, line and field."""
        return cls(load_environments_toml(codex_home), local_cwd=local_cwd)

    # --- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> EnvironmentManager:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for instance in self._instances.values():
            if instance.spec.url is not None:
                instance.start()  # websocket links connect eagerly; stdio ones stay lazy
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        with anyio.CancelScope(shield=True):
            await self.aclose()
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        return await self._tg.__aexit__(et, e, tb)

    async def aclose(self) -> None:
        """Stop every executor link and reap its process."""
        instances = list(self._instances.values()) + self._retired
        async with anyio.create_task_group() as tg:
            for instance in instances:
                tg.start_soon(instance.aclose)

    def _task_group(self) -> TaskGroup:
        if self._tg is None:
            raise RuntimeError("EnvironmentManager must be entered (`async with`) before use")
        return self._tg

    # --- events -----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener(env_id, "connected"|"disconnected")`` on every link change."""
        self._listeners.append(listener)

    def _emit(self, env_id: str, event: Literal["connected", "disconnected"]) -> None:
        if event == "connected":
            self._generations[env_id] = self._generations.get(env_id, 0) + 1
        for listener in self._listeners:
            try:
                listener(env_id, event)
            except Exception:
                log.exception("environment listener failed")

    # --- lookup -----------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        return ([LOCAL_ID] if self._local is not None else []) + list(self._instances)

    def default_environment_ids(self) -> list[str]:
        """What a thread gets when it names none (:func:`default_ids` of the current ids)."""
        return default_ids(self.ids, self.default_id)

    def __contains__(self, env_id: object) -> bool:
        return env_id in self.ids

    def get(self, env_id: str) -> Environment | None:
        """The environment handle (calls through it start a lazy executor); None if unknown."""
        if env_id == LOCAL_ID and self._local is not None:
            return self._local
        instance = self._instances.get(env_id)
        return instance.environment if instance is not None else None

    # --- readiness (non-blocking facts) -----------------------------------------------------

    def is_ready(self, env_id: str) -> bool:
        if env_id == LOCAL_ID and self._local is not None:
            return True
        instance = self._instances.get(env_id)
        return instance is not None and instance.connected

    def startup_finished(self, env_id: str) -> bool:
        if env_id == LOCAL_ID and self._local is not None:
            return True
        instance = self._instances.get(env_id)
        return instance is not None and instance.startup_finished

    def ensure_started(self, env_id: str) -> None:
        """Start a lazy executor in the background; never waits, never raises for failures."""
        instance = self._instances.get(env_id)
        if instance is not None:
            instance.start()

    async def wait_until_ready(self, env_id: str) -> Environment:
        """Start if needed and wait for the first startup; raises ``EnvironmentUnavailable``."""
        env = self.get(env_id)
        if env is None:
            raise EnvironmentUnavailable(f"unknown environment id `{env_id}`")
        instance = self._instances.get(env_id)
        if instance is not None:
            await instance.acquire()
        return env

    async def settle(self, env_id: str) -> bool:
        """Wait until ``env_id`` has finished starting (starting it if needed), bounded by its
        start-up timeouts; True when it is connected. Unknown ids are never ready."""
        if env_id == LOCAL_ID and self._local is not None:
            return True
        instance = self._instances.get(env_id)
        return instance is not None and await instance.settle()

    def ready_for_step(self, env_id: str) -> bool:
        """Is it ready *now*? If it never started, start it in the background (mirror §5.2):
        not ready for this step, possibly for the next. Never waits."""
        if self.is_ready(env_id):
            return True
        self.ensure_started(env_id)
        return False

    def generation(self, env_id: str) -> int:
        """Bumped whenever ``env_id`` gets a new link (connect, reconnect, ``add_websocket``):
        a step that saw another generation must not reuse clients bound to the old one."""
        return self._generations.get(env_id, 0)

    def ready_environments(self, env_ids: list[str]) -> set[str]:
        """Which of ``env_ids`` are ready *now*; unstarted ones are started for a later step."""
        ready = set()
        for env_id in dict.fromkeys(env_ids):
            if self.ready_for_step(env_id):
                ready.add(env_id)
        return ready

    def status(self, env_id: str) -> EnvironmentStatus:
        if env_id == LOCAL_ID and self._local is not None:
            return EnvironmentStatus("ready")
        instance = self._instances.get(env_id)
        if instance is None:
            return EnvironmentStatus("unknown", f"unknown environment id `{env_id}`")
        return instance.status()

    async def probe_status(self, env_id: str) -> EnvironmentStatus:
        """Like ``status`` but a connected executor is asked ``environment/status`` (never starts one)."""
        current = self.status(env_id)
        instance = self._instances.get(env_id)
        if current.status != "ready" or instance is None:
            return current
        try:
            ok = await instance.environment.probe()
        except Exception as exc:
            return EnvironmentStatus("disconnected", str(exc))
        return EnvironmentStatus("ready") if ok else EnvironmentStatus("disconnected", "exec-server is not ready")

    # --- environment/add --------------------------------------------------------------------

    def add_websocket(
        self, env_id: str, url: str, *, connect_timeout: float = 10.0, initialize_timeout: float = 10.0
    ) -> None:
        """Add or replace ``env_id`` with a new websocket instance and start connecting now."""
        if env_id == LOCAL_ID or env_id.lower() == "none" or not env_id:
            raise ValueError(f"environment id `{env_id}` is reserved")
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"environment `{env_id}` url must be a ws:// or wss:// URL")
        spec = EnvironmentSpec(
            id=env_id, url=url, connect_timeout_sec=connect_timeout, initialize_timeout_sec=initialize_timeout
        )
        old = self._instances.get(env_id)
        instance = _Instance(spec, self)
        self._instances[env_id] = instance
        if old is not None:
            self._retired.append(old)
            old.stop.set()
        instance.start()
