"""thread/settings/update, thread/readState/update and their notifications."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rootstep.protocol.approval_policy import ApprovalPolicyParam
from rootstep.protocol.base import Params, WireModel
from rootstep.protocol.notifications import Notification
from rootstep.protocol.thread import ApprovalPolicy, EnvironmentSelection, SandboxPolicy


class ThreadSettingsUpdateParams(Params):
    thread_id: str
    cwd: str | None = None
    environments: list[EnvironmentSelection] | None = None
    approval_policy: ApprovalPolicyParam = None
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


class CollaborationModeSettings(WireModel):
    """Its keys are snake_case on the wire, as 0.169 sends them."""

    model: str | None = None
    reasoning_effort: str | None = Field(default=None, alias="reasoning_effort")
    developer_instructions: str | None = Field(default=None, alias="developer_instructions")


class CollaborationMode(WireModel):
    mode: str
    settings: CollaborationModeSettings


class ThreadSettings(WireModel):
    """What a thread's next turn runs with (``thread/settings/updated``)."""

    disabled_plugin_ids: list[str] = []
    cwd: str
    environments: list[EnvironmentSelection]
    approval_policy: ApprovalPolicy
    approvals_reviewer: str
    sandbox_policy: SandboxPolicy
    active_permission_profile: dict[str, Any] | None
    model: str
    model_provider: str
    service_tier: str | None
    effort: str | None
    summary: str | None
    collaboration_mode: CollaborationMode
    multi_agent_mode: str = "explicitRequestOnly"
    personality: Any = None


class ThreadSettingsUpdated(Notification):
    METHOD = "thread/settings/updated"
    thread_id: str
    thread_settings: ThreadSettings


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
