"""Loaded threads and the rollouts on disk: start, resume, fork, read, list, archive.

One :class:`ThreadManager` per app-server process. It owns the task group the turn tasks run
in (so shutdown cancels and awaits them) and the model clients (one per provider); it is given
the factory that equips each thread with its :class:`~rootstep.tools.ThreadTools` and the
:class:`EnvironmentSelector` that says which environments a thread gets.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from rootstep import preload
from rootstep.config import Config
from rootstep.config.home import make_private_dirs
from rootstep.core.ids import is_uuid, uuid7
from rootstep.core.rollout import (
    RolloutContents,
    RolloutWriter,
    all_rollouts,
    find_rollout,
    read_rollout,
    rollout_path,
    rollout_path_problem,
    summarize_rollout,
    thread_id_of,
)
from rootstep.core.thread import ActiveTurn, Emit, Thread, ThreadSettings
from rootstep.core.turn import run_turn
from rootstep.protocol.capabilities import SelectedCapabilityRoot, roots_from_wire
from rootstep.protocol.notifications import Notification
from rootstep.protocol.thread import EnvironmentSelection, Thread as WireThread, ThreadStatus, Turn
from rootstep.tools import ThreadToolsContext, ToolsFactory, no_tools

log = logging.getLogger(__name__)


def _environments_of(meta: dict[str, Any]) -> list[EnvironmentSelection] | None:
    raw = meta.get("environments")
    if not isinstance(raw, list):
        return None
    try:
        return [EnvironmentSelection.model_validate(e) for e in raw]
    except ValueError:
        return None


def local_environment(cwd: str) -> list[EnvironmentSelection]:
    return [EnvironmentSelection(environment_id="local", cwd=cwd, runtime_workspace_roots=[cwd])]


class EnvironmentSelector(Protocol):
    """Which environments a thread gets (``environments.toml``, ``environment/add``)."""

    def default_selection(self, cwd: str) -> list[EnvironmentSelection]:
        """A thread that names none: every configured environment, the default first."""
        ...

    def check(self, selection: list[EnvironmentSelection]) -> None:
        """An explicit selection; raises :class:`ThreadError` for an unknown id."""
        ...


class LocalOnly:
    """The selector of a process without environments: the local machine at the thread's cwd."""

    def default_selection(self, cwd: str) -> list[EnvironmentSelection]:
        return local_environment(cwd)

    def check(self, selection: list[EnvironmentSelection]) -> None:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ThreadError(Exception):
    """A request about threads that cannot be honoured; the message is the client's to read."""


@dataclass(frozen=True)
class SettingsOverrides:
    model: str | None = None
    model_provider: str | None = None
    cwd: str | None = None
    approval_policy: Any = None
    sandbox: str | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    config: dict[str, Any] | None = None
    approvals_reviewer: str | None = None
    service_tier: str | None = None


@dataclass
class ListPage:
    threads: list[WireThread]
    next_cursor: str | None


class ThreadManager:
    def __init__(
        self,
        config: Config,
        *,
        emit: Emit,
        tools_factory: ToolsFactory = no_tools,
        environments: EnvironmentSelector | None = None,
        originator: str = "rootstep",
        credentials: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self._emit = emit
        self.tools_factory = tools_factory
        self.environments: EnvironmentSelector = environments if environments is not None else LocalOnly()
        self.originator = originator
        self.threads: dict[str, Thread] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._group: TaskGroup | None = None
        # () -> the OpenAI account (rootstep.auth) for providers that need one, or None.
        self.credentials = credentials

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Own the turn tasks until cancelled; then unload every thread."""
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._group = None
            with anyio.CancelScope(shield=True):
                await self.aclose()

    async def aclose(self) -> None:
        for thread in list(self.threads.values()):
            await thread.aclose()
        self.threads.clear()
        for client in self._clients.values():
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001
                log.debug("closing model client failed", exc_info=True)
        self._clients.clear()

    async def emit(self, notification: Notification) -> None:
        await self._emit(notification)

    # --- settings -------------------------------------------------------------------------

    def _settings(self, config: Config, o: SettingsOverrides, base: ThreadSettings | None = None) -> ThreadSettings:
        provider = o.model_provider or (base.model_provider_id if base else config.model_provider_id)
        if provider not in config.providers:
            raise ThreadError(f"model provider `{provider}` not found")
        cwd = o.cwd or (base.cwd if base else os.getcwd())
        cwd = str(Path(cwd).expanduser().resolve())
        return ThreadSettings(
            model=o.model or (base.model if base else config.model),
            model_provider_id=provider,
            cwd=cwd,
            approval_policy=o.approval_policy if o.approval_policy is not None
            else (base.approval_policy if base else config.approval_policy),
            sandbox_mode=o.sandbox or (base.sandbox_mode if base else config.sandbox_mode),
            base_instructions=o.base_instructions
            or (base.base_instructions if base else config.base_instructions),
            developer_instructions=o.developer_instructions
            or (base.developer_instructions if base else config.developer_instructions),
            approvals_reviewer=o.approvals_reviewer or (base.approvals_reviewer if base else "user"),
            service_tier=o.service_tier or (base.service_tier if base else None),
            # config.toml's model_reasoning_effort (what the TUI's /model saves) for new threads
            effort=base.effort if base else _text(config.raw.get("model_reasoning_effort")),
        )

    def _config_for(self, overrides: dict[str, Any] | None) -> Config:
        if not overrides:
            return self.config
        try:
            return self.config.with_overrides(overrides)
        except ValueError as exc:
            raise ThreadError(f"invalid config override: {exc}") from None

    def model_client(self, thread: Thread) -> Any:
        preload.wait(*preload.MODEL_MODULES)  # httpx2 may be loading in the background
        from rootstep.model.client import ResponsesClient

        provider = thread.config.providers[thread.settings.model_provider_id]
        key = (thread.settings.model_provider_id, provider.model_dump_json())
        client = self._clients.get(key)
        if client is None:
            client = ResponsesClient(provider, originator=self.originator, credentials=self.credentials)
            self._clients[key] = client
        return client

    def _new_thread(
        self,
        *,
        thread_id: str,
        config: Config,
        settings: ThreadSettings,
        created_at: int,
        ephemeral: bool,
        writer: RolloutWriter | None,
        selected_capability_roots: Sequence[SelectedCapabilityRoot],
        environments: list[EnvironmentSelection] | None,
        forked_from_id: str | None = None,
        source: Any = "vscode",
        view_only: bool = False,
        stored: dict[str, Any] | None = None,
    ) -> Thread:
        """A thread object; ``view_only`` ones (read/list/fork sources) get no tools, so looking
        at a stored thread never starts anything."""
        thread = Thread(
            thread_id=thread_id,
            config=config,
            settings=settings,
            created_at=created_at,
            emit=self._emit,
            writer=writer,
            ephemeral=ephemeral,
            originator=self.originator,
            selected_capability_roots=selected_capability_roots,
            environments=environments,
            forked_from_id=forked_from_id,
            source=source,
        )
        if not view_only:
            thread.tools = self.tools_factory(
                ThreadToolsContext(thread=thread, config=config, selected_roots=thread.selected_capability_roots,
                                   stored=stored or {})
            )
        return thread

    # --- threads --------------------------------------------------------------------------

    def start_thread(
        self,
        overrides: SettingsOverrides,
        *,
        ephemeral: bool = False,
        selected_capability_roots: Sequence[SelectedCapabilityRoot] = (),
        environments: list[EnvironmentSelection] | None = None,
    ) -> Thread:
        config = self._config_for(overrides.config)
        settings = self._settings(config, overrides)
        environments = self.select_environments(environments, settings.cwd)
        thread_id = uuid7()
        created_at = int(time.time())
        writer = None if ephemeral else self._writer(rollout_path(config.sessions_dir, created_at, thread_id))
        thread = self._new_thread(
            thread_id=thread_id,
            config=config,
            settings=settings,
            created_at=created_at,
            ephemeral=ephemeral,
            writer=writer,
            selected_capability_roots=selected_capability_roots,
            environments=environments,
        )
        thread.record("session_meta", thread.session_meta())
        if thread.persist_error is not None:
            raise ThreadError(f"cannot persist the new thread: {thread.persist_error}")
        self.threads[thread_id] = thread
        return thread

    def select_environments(
        self, requested: list[EnvironmentSelection] | None, cwd: str
    ) -> list[EnvironmentSelection]:
        """The default selection when none is named; else the named one, checked and completed."""
        if requested is None:
            return self.environments.default_selection(cwd)
        self.environments.check(requested)
        return [
            e if e.runtime_workspace_roots is not None else e.model_copy(update={"runtime_workspace_roots": [e.cwd]})
            for e in requested
        ]

    def set_environments(self, thread: Thread, requested: list[EnvironmentSelection]) -> None:
        """A turn-level selection: applies to this turn and the following ones (persisted)."""
        thread.environments = self.select_environments(requested, thread.settings.cwd)
        thread.record("settings", {"environments": [e.model_dump(mode="json", by_alias=True)
                                                    for e in thread.environments]})

    @staticmethod
    def _writer(path: Path) -> RolloutWriter:
        try:
            return RolloutWriter(path)
        except OSError as exc:
            raise ThreadError(f"cannot persist the new thread: {exc.strerror or exc} ({path.parent})") from None

    def loaded(self, thread_id: str) -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise ThreadError(f"thread not found: {thread_id}")
        return thread

    def _rollout_for(self, thread_id: str, path: str | None = None, *, archived_too: bool = False) -> RolloutContents:
        roots = [self.config.sessions_dir] + ([self.config.archived_sessions_dir] if archived_too else [])
        if path:  # any file a client names: refuse what is not a readable rollout before reading
            problem = rollout_path_problem(Path(path))
            if problem is not None:
                raise ThreadError(f"failed to resolve rollout path `{path}`: {problem}")
        found = Path(path) if path else find_rollout(thread_id, *roots)
        try:
            contents = read_rollout(found) if found is not None and found.exists() else None
        except OSError as exc:
            raise ThreadError(f"failed to read rollout {found}: {exc.strerror or exc}") from None
        if contents is None:
            raise ThreadError(f"no rollout found for thread id {thread_id}")
        return contents

    def _settings_from_meta(self, meta: dict[str, Any], config: Config) -> ThreadSettings:
        provider = meta.get("model_provider")
        base = meta.get("base_instructions")
        return ThreadSettings(
            model=meta.get("model") or config.model,
            model_provider_id=provider if provider in config.providers else config.model_provider_id,
            cwd=meta.get("cwd") or os.getcwd(),
            approval_policy=meta.get("approval_policy", config.approval_policy),
            sandbox_mode=meta.get("sandbox_mode") or config.sandbox_mode,
            base_instructions=base.get("text") if isinstance(base, dict) else None,
            developer_instructions=meta.get("developer_instructions"),
            effort=meta.get("effort"),
            approvals_reviewer=meta.get("approvals_reviewer") or "user",
            sandbox_policy=meta.get("sandbox_policy") if isinstance(meta.get("sandbox_policy"), dict) else None,
        )

    def load_rollout(self, thread_id: str, path: str | None = None) -> RolloutContents:
        """The rollout a resume or fork of an unloaded thread reads (blocking file IO: async
        callers run it in a worker thread and pass the result as ``rollout``)."""
        return self._rollout_for(thread_id, path)

    def resume_thread(
        self, thread_id: str, overrides: SettingsOverrides, *, path: str | None = None,
        rollout: RolloutContents | None = None,
    ) -> Thread:
        """Attach to a loaded thread, or load it from its rollout (history, settings, roots)."""
        if not path and not is_uuid(thread_id):
            raise ThreadError(f"invalid thread id: {thread_id}")
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            return loaded
        contents = rollout if rollout is not None else self._rollout_for(thread_id, path)
        config = self._config_for(overrides.config)
        base = self._settings_from_meta(contents.meta, config)
        settings = self._settings(config, overrides, base)
        environments = _environments_of(contents.meta)
        if environments is None:
            environments = self.environments.default_selection(settings.cwd)
        thread = self._new_thread(
            thread_id=str(contents.meta.get("id") or thread_id),
            config=config,
            settings=settings,
            created_at=int(contents.meta.get("created_at") or contents.updated_at),
            ephemeral=False,
            writer=RolloutWriter(contents.path),
            selected_capability_roots=roots_from_wire(contents.meta.get("selected_capability_roots")),
            environments=environments,
            stored=contents.extras,
            forked_from_id=contents.meta.get("forked_from_id"),
            source=contents.meta.get("source", "vscode"),
        )
        thread.restore(contents)
        if settings != base:
            thread.record("settings", settings.to_meta())
        self.threads[thread.id] = thread
        return thread

    def fork_thread(
        self, thread_id: str, overrides: SettingsOverrides, *, path: str | None = None, ephemeral: bool = False,
        rollout: RolloutContents | None = None,
    ) -> Thread:
        """A new thread whose history and turns are a copy of the source's."""
        source = self.threads.get(thread_id)
        if source is not None:
            meta = source.session_meta()
            contents = RolloutContents(path=Path(), meta=meta, history=list(source.history))
            contents.name = source.name
            contents.preview = source.preview
            src_turns = [t.model_copy(deep=True) for t in source.turns]
        else:
            if not path and not is_uuid(thread_id):
                raise ThreadError(f"invalid thread id: {thread_id}")
            contents = rollout if rollout is not None else self._rollout_for(thread_id, path)
            temp = self._new_thread(
                thread_id=thread_id, config=self.config, settings=self._settings_from_meta(contents.meta, self.config),
                created_at=0, ephemeral=True, writer=None, selected_capability_roots=(), environments=None,
                view_only=True,
            )
            temp.restore(contents)
            src_turns = temp.turns
        config = self._config_for(overrides.config)
        base = self._settings_from_meta(contents.meta, config)
        settings = self._settings(config, overrides, base)
        new_id = uuid7()
        created_at = int(time.time())
        writer = None if ephemeral else RolloutWriter(rollout_path(config.sessions_dir, created_at, new_id))
        thread = self._new_thread(
            thread_id=new_id,
            config=config,
            settings=settings,
            created_at=created_at,
            ephemeral=ephemeral,
            writer=writer,
            selected_capability_roots=roots_from_wire(contents.meta.get("selected_capability_roots")),
            environments=self.environments.default_selection(settings.cwd),
            forked_from_id=thread_id,
        )
        thread.record("session_meta", thread.session_meta())
        thread.history = list(contents.history)
        for item in thread.history:
            thread.record("response_item", item)
        thread.turns = [t for t in src_turns if t.status != "inProgress"]
        for turn in thread.turns:
            thread.record("turn_started", {"turn_id": turn.id, "started_at": turn.started_at})
            for item in turn.items:
                thread.record("thread_item", {"turn_id": turn.id, "item": item})
            thread.record(
                "turn_completed",
                {"turn_id": turn.id, "status": turn.status, "error": turn.error.model_dump(by_alias=True)
                 if turn.error else None, "completed_at": turn.completed_at, "duration_ms": turn.duration_ms},
            )
        thread.preview = contents.preview
        if contents.name:  # the fork keeps the source's name (0.169)
            thread.name = contents.name
            thread.record("thread_name", {"name": contents.name})
        self.threads[new_id] = thread
        return thread

    def read_thread(self, thread_id: str, *, include_turns: bool) -> WireThread:
        loaded = self.threads.get(thread_id)
        if loaded is not None:
            return loaded.to_wire(include_turns=include_turns)
        if not is_uuid(thread_id):
            raise ThreadError(f"invalid thread id: {thread_id}")
        try:
            contents = self._rollout_for(thread_id, archived_too=True)
        except ThreadError:
            raise ThreadError(f"thread not found: {thread_id}") from None
        return self._wire_from_rollout(contents, include_turns=include_turns)

    def _wire_from_rollout(self, contents: RolloutContents, *, include_turns: bool) -> WireThread:
        meta = contents.meta
        thread = self._new_thread(
            thread_id=str(meta.get("id") or thread_id_of(contents.path)),
            config=self.config,
            settings=self._settings_from_meta(meta, self.config),
            created_at=int(meta.get("created_at") or contents.updated_at),
            ephemeral=False,
            writer=None,
            selected_capability_roots=(),
            environments=_environments_of(meta),
            forked_from_id=meta.get("forked_from_id"),
            source=meta.get("source", "vscode"),
            view_only=True,
        )
        thread.restore(contents)
        wire_thread = thread.to_wire(include_turns=include_turns, status=ThreadStatus.not_loaded())
        wire_thread.path = str(contents.path)
        return wire_thread

    def list_threads(
        self, *, cursor: str | None, limit: int | None, archived: bool = False,
        model_providers: list[str] | None = None, search_term: str | None = None,
        sort_key: str | None = None, sort_direction: str | None = None,
    ) -> ListPage:
        """Newest first by default (``created_at``, then id); the cursor is an opaque offset."""
        offset = 0
        if cursor:
            try:
                offset = int(cursor)
                if offset < 0:
                    raise ValueError
            except ValueError:
                raise ThreadError(f"invalid cursor: {cursor}") from None
        limit = 25 if not limit or limit <= 0 else min(limit, 100)
        root = self.config.archived_sessions_dir if archived else self.config.sessions_dir
        entries: list[WireThread] = []
        for path in all_rollouts(root):
            tid = thread_id_of(path)
            loaded = self.threads.get(tid or "") if not archived else None
            if loaded is not None:
                entries.append(loaded.to_wire())
                continue
            contents = summarize_rollout(path)
            if contents is None:
                continue
            entries.append(self._wire_from_rollout(contents, include_turns=False))
        if model_providers:
            entries = [t for t in entries if t.model_provider in model_providers]
        if search_term:
            needle = search_term.lower()
            entries = [t for t in entries if needle in (t.preview or "").lower() or needle in (t.name or "").lower()]
        if sort_key in ("updated_at", "recency_at"):
            entries.sort(key=lambda t: (t.updated_at, t.id), reverse=sort_direction != "asc")
        else:
            entries.sort(key=lambda t: (t.created_at, t.id), reverse=sort_direction != "asc")
        page = entries[offset : offset + limit]
        more = offset + limit < len(entries)
        return ListPage(threads=page, next_cursor=str(offset + limit) if more else None)

    async def unload_thread(self, thread_id: str) -> bool:
        """Drop a loaded thread from memory (its turn is cancelled, its tools closed); the
        rollout stays and ``thread/resume`` loads it again. False if it was not loaded."""
        thread = self.threads.pop(thread_id, None)
        if thread is None:
            return False
        await thread.aclose()
        return True

    async def archive_thread(self, thread_id: str) -> None:
        if not is_uuid(thread_id):
            raise ThreadError(f"invalid thread id: {thread_id}")
        loaded = self.threads.pop(thread_id, None)
        if loaded is not None:
            await loaded.aclose()
            if loaded.ephemeral:
                return
        path = find_rollout(thread_id, self.config.sessions_dir)
        if path is None:
            raise ThreadError(f"no rollout found for thread id {thread_id}")
        target = self.config.archived_sessions_dir / path.relative_to(self.config.sessions_dir)
        make_private_dirs(target.parent)
        shutil.move(str(path), str(target))

    def unarchive_thread(self, thread_id: str) -> WireThread:
        if not is_uuid(thread_id):
            raise ThreadError(f"invalid thread id: {thread_id}")
        path = find_rollout(thread_id, self.config.archived_sessions_dir)
        if path is None:
            raise ThreadError(f"no archived rollout found for thread id {thread_id}")
        target = self.config.sessions_dir / path.relative_to(self.config.archived_sessions_dir)
        make_private_dirs(target.parent)
        shutil.move(str(path), str(target))
        os.utime(target)
        contents = read_rollout(target)
        if contents is None:
            raise ThreadError(f"no rollout found for thread id {thread_id}")
        return self._wire_from_rollout(contents, include_turns=False)

    def set_name(self, thread_id: str, name: str) -> None:
        thread = self.threads.get(thread_id)
        if thread is not None:
            thread.name = name
            thread.record("thread_name", {"name": name})
            return
        if not is_uuid(thread_id):
            raise ThreadError(f"invalid thread id: {thread_id}")
        path = find_rollout(thread_id, self.config.sessions_dir)
        if path is None:
            raise ThreadError(f"thread not found: {thread_id}")
        writer = RolloutWriter(path)
        writer.append("thread_name", {"name": name})
        writer.close()

    # --- turns ----------------------------------------------------------------------------

    def start_turn(
        self,
        thread: Thread,
        inputs: list[Any],
        *,
        settings: ThreadSettings | None = None,
        client_user_message_id: str | None = None,
        output_schema: Any = None,
        compact: bool = False,
        body: Any = None,
    ) -> Turn:
        """Create the turn (status inProgress) — the caller responds, then calls :meth:`launch`.

        Split in two so the ``turn/start`` response is on the wire before ``turn/started``.
        """
        if settings is not None and settings != thread.settings:
            thread.settings = settings
            thread.record("settings", settings.to_meta())
        turn = Turn(id=uuid7(), status="inProgress", items_view="notLoaded")
        thread.active = ActiveTurn(
            turn=turn,
            started_mono=time.monotonic(),
            client_user_message_id=client_user_message_id,
            output_schema=output_schema,
            compact=compact,
            body=body,
        )
        thread.turns.append(turn)
        return turn

    def launch(self, thread: Thread, inputs: list[Any]) -> None:
        active = thread.active
        if active is None or self._group is None:
            raise ThreadError("no turn to launch")
        self._group.start_soon(self._run_turn, thread, active, inputs)

    async def _run_turn(self, thread: Thread, active: ActiveTurn, inputs: list[Any]) -> None:
        # A process's first turn may come while the model client still loads in the background:
        # wait for it without holding up the event loop (an interrupt meanwhile is seen at once,
        # by the turn's cancelled scope).
        await preload.ready(*preload.MODEL_MODULES)
        await run_turn(thread, active, inputs, self.model_client(thread))
