"""thread/settings/update, thread/readState/update and their notifications."""

from __future__ import annotations

from typing import Any, Literal

from rootstep.protocol.base import Params, WireModel
from rootstep.protocol.notifications import Notification
from rootstep.protocol.thread import ApprovalPolicy, EnvironmentSelection


class ThreadSettingsUpdateParams(Params):
    thread_id: str
    cwd: str | None = None
    environments: list[EnvironmentSelection] | None = None
    approval_policy: ApprovalPolicy = None
    approvals_reviewer: str | None = None
    sandbox_policy: dict[str, Any] | None = None
    permissions: Any = None
    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    service_tier: str | None = None
    collaboration_mode: dict[str, Any] | None = None
    disabled_plugin_ids: list[str] | None = None
    personality: Any = None


class ThreadSettingsUpdated(Notification):
    METHOD = "thread/settings/updated"
    thread_id: str
    thread_settings: dict[str, Any]


class ReadStateOperation(Params):
    type: Literal["read", "unread"]


class ThreadReadStateUpdateParams(Params):
    thread_id: str
    operation: ReadStateOperation
    expected_revision: str


class ThreadReadStateResponse(WireModel):
    read_state: dict[str, Any]


class ThreadReadStateChanged(Notification):
    METHOD = "thread/readState/changed"
    thread_id: str
    read_state: dict[str, Any]
