"""A loaded thread: its settings, history, turns, rollout, and the turn that may be running.

The thread does not know about connections: it reports through an :data:`Emit` callback (the
app-server fans notifications out), persists through its :class:`RolloutWriter`, and gets its
tools through its :class:`~rootstep.tools.ThreadTools` (to which it is a
:class:`~rootstep.tools.ThreadView`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from rootstep import CODEX_COMPAT_VERSION
from rootstep.agent_tools.goals import GoalStore
from rootstep.config import Config
from rootstep.core.rollout import RolloutContents, RolloutWriter
from rootstep.protocol.base import wire
from rootstep.protocol.capabilities import SelectedCapabilityRoot
from rootstep.protocol.notifications import NotificationModel, ThreadTokenUsage, TokenUsageBreakdown
from rootstep.protocol.thread import EnvironmentSelection, Thread as WireThread, ThreadStatus, Turn, TurnError
from rootstep.tools import ThreadTools

log = logging.getLogger(__name__)

Emit = Callable[[NotificationModel], Awaitable[None]]

DEFAULT_CONTEXT_WINDOW = 272_000


@dataclass(frozen=True)
class ThreadSettings:
    """What a turn runs with; turn-level overrides produce a new value that persists."""

    model: str
    model_provider_id: str
    cwd: str
    approval_policy: Any
    sandbox_mode: str
    base_instructions: str | None = None
    developer_instructions: str | None = None
    effort: str | None = None
    summary: str | None = None
    approvals_reviewer: str = "user"
    service_tier: str | None = None
    # ``turn/start.sandboxPolicy`` as sent (writable roots, network): it refines ``sandbox_mode``
    # while their modes agree.
    sandbox_policy: dict[str, Any] | None = None

    def evolve(self, **changes: Any) -> ThreadSettings:
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **changes) if changes else self

    def to_meta(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_provider": self.model_provider_id,
            "cwd": self.cwd,
            "approval_policy": self.approval_policy,
            "sandbox_mode": self.sandbox_mode,
            "base_instructions": {"text": self.base_instructions} if self.base_instructions else None,
            "developer_instructions": self.developer_instructions,
            "effort": self.effort,
            "approvals_reviewer": self.approvals_reviewer,
            **({"sandbox_policy": self.sandbox_policy} if self.sandbox_policy is not None else {}),
        }


@dataclass
class ActiveTurn:
    """The running turn: its cancel scope, queued steer input, and interrupt waiters."""

    turn: Turn
    started_mono: float
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    steer_queue: list[list[Any]] = field(default_factory=list)
    # turn/start extras that apply to this turn only.
    client_user_message_id: str | None = None
    output_schema: Any = None
    # thread/compact/start: summarize instead of running the input.
    compact: bool = False
    # A turn that runs this instead of the model (``thread/shellCommand``): it gets the turn's
    # item sink and a function appending to the model's history.
    body: Callable[[Any, Callable[[dict[str, Any]], None]], Awaitable[None]] | None = None
    # review/start: a rootstep.core.review.ReviewRequest to run instead of the input.
    review: Any = None
    # The in-flight model request while a steer may still preempt it (see turn.TurnRunner._step).
    sample_scope: anyio.CancelScope | None = None
    interrupt_requested: bool = False
    # Called (in order) after the turn stopped and before turn/completed is emitted.
    before_completed: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def runs_model(self) -> bool:
        """A model turn (not a compaction, not a shell command): the tools follow it."""
        return not self.compact and self.body is None


class Thread:
    def __init__(
        self,
        *,
        thread_id: str,
        config: Config,
        settings: ThreadSettings,
        created_at: int,
        emit: Emit,
        writer: RolloutWriter | None,
        tools: ThreadTools | None = None,
        ephemeral: bool = False,
        source: Any = "vscode",
        originator: str = "rootstep",
        selected_capability_roots: Sequence[SelectedCapabilityRoot] = (),
        environments: list[EnvironmentSelection] | None = None,
        forked_from_id: str | None = None,
    ) -> None:
        self.id = thread_id
        self.config = config
        self.settings = settings
        self.created_at = created_at
        self.updated_at = created_at
        self.emit = emit
        self.tools = tools if tools is not None else ThreadTools()
        self.writer = writer
        self.ephemeral = ephemeral
        self.source = source
        self.originator = originator
        self.selected_capability_roots: tuple[SelectedCapabilityRoot, ...] = tuple(selected_capability_roots)
        self.environments = environments
        self.forked_from_id = forked_from_id
        self.name: str | None = None
        self.preview = ""
        self.history: list[dict[str, Any]] = []
        self.turns: list[Turn] = []
        self.active: ActiveTurn | None = None
        self.total_usage = TokenUsageBreakdown()
        self.closed = False
        # The last persistence failure not yet reported to clients (disk full, read-only home).
        self.persist_error: str | None = None
        # The thread's goal (the model's goal tools and the thread/goal/* requests share it).
        self.goals = GoalStore(on_change=lambda _id, goal: self.record("settings", {"goal": goal and goal.wire()}))
        # thread/settings/update's (or turn/start's) collaborationMode: {"mode",
        # "developer_instructions"}; ``collaboration_mode`` is its mode.
        self.collaboration: dict[str, Any] = {"mode": "default", "developer_instructions": None}
        # thread/readState/* (rootstep.core.read_state); None until a turn has ended.
        self.read_state: dict[str, Any] | None = None
        # thread/settings/update's ``permissions`` profile ({"id", "extends"}), or None.
        self.permission_profile: dict[str, Any] | None = None
        # thread/start's threadSource and historyMode, echoed in the thread.
        self.thread_source: Any = None
        self.history_mode: str = "legacy"

    # --- what its tools read (rootstep.tools.ThreadView) -----------------------------------

    @property
    def cwd(self) -> str:
        return self.settings.cwd

    @property
    def approval_policy(self) -> Any:
        return self.settings.approval_policy

    @property
    def sandbox_mode(self) -> str | None:
        return self.settings.sandbox_mode

    @property
    def environment_ids(self) -> Sequence[str]:
        """The environments the thread selected, in order (``turn/start`` may change them)."""
        return [e.environment_id for e in self.environments or ()]

    @property
    def active_turn_id(self) -> str | None:
        return self.active.turn.id if self.active is not None else None

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def sandbox_policy(self) -> dict[str, Any] | None:
        return self.settings.sandbox_policy

    @property
    def collaboration_mode(self) -> str:
        return str(self.collaboration.get("mode") or "default")

    @property
    def environment_selections(self) -> Sequence[EnvironmentSelection]:
        """The selected environments with their cwd, in order (the first is the primary)."""
        return list(self.environments or ())

    # --- persistence ----------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return None if self.writer is None else self.writer.path

    def record(self, kind: str, payload: Any) -> None:
        self.updated_at = int(time.time())
        if self.writer is not None:
            try:
                self.writer.append(kind, payload)
            except OSError as exc:  # a full disk must not kill the turn: log, and tell the client
                log.error("thread %s: could not persist %s: %s", self.id, kind, exc)
                self.persist_error = f"{exc.strerror or exc} ({self.writer.path})"

    def session_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "id": self.id,
            "session_id": self.id,
            "timestamp": self.created_at,
            "created_at": self.created_at,
            "originator": self.originator,
            "cli_version": CODEX_COMPAT_VERSION,
            "source": self.source,
            "history_mode": "legacy",
            "forked_from_id": self.forked_from_id,
            **self.settings.to_meta(),
        }
        if self.selected_capability_roots:
            meta["selected_capability_roots"] = [root.to_wire() for root in self.selected_capability_roots]
        if self.environments is not None:
            meta["environments"] = [wire(e) for e in self.environments]
        return meta

    def restore(self, contents: RolloutContents) -> None:
        """Load history, turns, name and usage from a rollout (resume / fork)."""
        self.history = list(contents.history)
        self.turns = [
            Turn(
                id=t.id,
                items=list(t.items),
                items_view="full",
                status=t.status,
                error=TurnError.model_validate(t.error) if t.error else None,
                started_at=t.started_at,
                completed_at=t.completed_at,
                duration_ms=t.duration_ms,
            )
            for t in contents.turns
        ]
        self.name = contents.name
        self.preview = contents.preview
        self.goals.restore(self.id, contents.meta.get("goal"))
        from rootstep.core.read_state import restored as restored_read_state

        self.read_state = restored_read_state(contents.meta)
        self.thread_source = contents.meta.get("thread_source")
        profile = contents.meta.get("permission_profile")
        self.permission_profile = profile if isinstance(profile, dict) else None
        if contents.meta.get("history_mode") in ("legacy", "paginated"):
            self.history_mode = contents.meta["history_mode"]
        mode = contents.meta.get("collaboration_mode")
        if isinstance(mode, dict) and isinstance(mode.get("mode"), str):
            self.collaboration = mode
        self.updated_at = contents.updated_at or self.updated_at
        if contents.token_usage:
            try:
                self.total_usage = TokenUsageBreakdown.model_validate(contents.token_usage)
            except ValueError:
                pass

    # --- wire -----------------------------------------------------------------------------

    def status(self) -> ThreadStatus:
        return ThreadStatus.active() if self.active is not None else ThreadStatus.idle()

    def to_wire(self, *, include_turns: bool = False, status: ThreadStatus | None = None) -> WireThread:
        return WireThread(
            id=self.id,
            session_id=self.id,
            preview=self.preview,
            ephemeral=self.ephemeral,
            model_provider=self.settings.model_provider_id,
            model=self.settings.model,
            reasoning_effort=self.settings.effort,
            history_mode=self.history_mode,
            originator=self.originator,
            thread_source=self.thread_source,
            created_at=self.created_at,
            updated_at=self.updated_at,
            recency_at=self.updated_at,
            status=status or self.status(),
            path=str(self.path) if self.path else None,
            cwd=self.settings.cwd,
            cli_version=CODEX_COMPAT_VERSION,
            source=self.source,
            environments=self.environments,
            turns=[t.model_copy(update={"items_view": "full"}) for t in self.turns] if include_turns else [],
            forked_from_id=self.forked_from_id,
            name=self.name,
        )

    def token_usage(self, last: TokenUsageBreakdown) -> ThreadTokenUsage:
        return ThreadTokenUsage(total=self.total_usage, last=last, model_context_window=self.context_window())

    def context_window(self) -> int:
        """The usable context window, as codex reports it: the model's window (config
        ``model_context_window``, else codex's fallback of 272,000 tokens) less a 5% reserve."""
        configured = self.config.raw.get("model_context_window")
        window = configured if isinstance(configured, int) and configured > 0 else DEFAULT_CONTEXT_WINDOW
        return window * 95 // 100

    async def aclose(self) -> None:
        """Unload: cancel a running turn, close the tools provider and the rollout."""
        self.closed = True
        if self.active is not None:
            self.active.interrupt_requested = True
            self.active.scope.cancel()
            with anyio.move_on_after(5):
                await self.active.done.wait()
        try:
            await self.tools.aclose()
        except Exception:  # noqa: BLE001 - a broken provider must not block shutdown
            log.exception("thread %s: closing tools failed", self.id)
        if self.writer is not None:
            self.writer.close()
