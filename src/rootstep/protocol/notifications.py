"""Server notifications (``params`` shapes; the method name is the class's ``METHOD``)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from rootstep.protocol.base import WireModel
from rootstep.protocol.thread import Thread, ThreadStatus, Turn, TurnError


class NotificationModel(Protocol):
    """What the server emits: a pydantic model whose class names the method (``METHOD``);
    :class:`Notification` subclasses and the few params-only models elsewhere all qualify."""

    METHOD: ClassVar[str]


class Notification(WireModel):
    METHOD: ClassVar[str] = ""


class ThreadStarted(Notification):
    METHOD = "thread/started"
    thread: Thread


class ThreadStatusChanged(Notification):
    METHOD = "thread/status/changed"
    thread_id: str
    status: ThreadStatus


class ThreadArchived(Notification):
    METHOD = "thread/archived"
    thread_id: str


class ThreadUnarchived(Notification):
    METHOD = "thread/unarchived"
    thread_id: str


class ThreadClosed(Notification):
    METHOD = "thread/closed"
    thread_id: str


class ThreadNameUpdated(Notification):
    METHOD = "thread/name/updated"
    thread_id: str
    thread_name: str | None = None


class TurnStarted(Notification):
    METHOD = "turn/started"
    thread_id: str
    turn: Turn


class TurnCompleted(Notification):
    METHOD = "turn/completed"
    thread_id: str
    turn: Turn


class ItemStarted(Notification):
    METHOD = "item/started"
    item: Any  # a ThreadItem model or its wire dict
    thread_id: str
    turn_id: str
    started_at_ms: int


class ItemCompleted(Notification):
    METHOD = "item/completed"
    item: Any  # a ThreadItem model or its wire dict
    thread_id: str
    turn_id: str
    completed_at_ms: int


class AgentMessageDelta(Notification):
    METHOD = "item/agentMessage/delta"
    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class TokenUsageBreakdown(WireModel):
    total_tokens: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    def __add__(self, other: TokenUsageBreakdown) -> TokenUsageBreakdown:
        return TokenUsageBreakdown(
            total_tokens=self.total_tokens + other.total_tokens,
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_output_tokens=self.reasoning_output_tokens + other.reasoning_output_tokens,
        )


class ThreadTokenUsage(WireModel):
    total: TokenUsageBreakdown
    last: TokenUsageBreakdown
    model_context_window: int | None = None


class ThreadTokenUsageUpdated(Notification):
    METHOD = "thread/tokenUsage/updated"
    thread_id: str
    turn_id: str
    token_usage: ThreadTokenUsage


class ErrorNotification(Notification):
    METHOD = "error"
    error: TurnError
    will_retry: bool = False
    thread_id: str
    turn_id: str


class Warning(Notification):  # noqa: A001 - the protocol's name
    METHOD = "warning"
    message: str
    thread_id: str | None = None


class ConfigWarning(Notification):
    METHOD = "configWarning"
    summary: str
    details: str | None = None
    path: str | None = None
    range: Any = None
