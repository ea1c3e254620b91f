"""Thread and turn shapes, and the params/responses of the thread/turn/model methods."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from rootstep.protocol.approval_policy import ApprovalPolicyParam
from rootstep.protocol.base import Params, WireModel
from rootstep.protocol.items import UserInput

# "untrusted" | "on-request" | "never" | {"granular": {...}}: stored and echoed verbatim.
ApprovalPolicy = Any
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]


class ThreadStatus(WireModel):
    type: Literal["notLoaded", "idle", "systemError", "active"]
    active_flags: list[str] | None = None
    __omit_none__ = frozenset({"active_flags"})

    @classmethod
    def idle(cls) -> ThreadStatus:
        return cls(type="idle")

    @classmethod
    def active(cls) -> ThreadStatus:
        return cls(type="active", active_flags=[])

    @classmethod
    def not_loaded(cls) -> ThreadStatus:
        return cls(type="notLoaded")


class SandboxPolicy(WireModel):
    """The tagged sandbox object echoed in responses (``{"type":"readOnly",...}``)."""

    type: Literal["dangerFullAccess", "readOnly", "workspaceWrite", "externalSandbox"]
    network_access: bool | None = None
    writable_roots: list[str] | None = None
    exclude_tmpdir_env_var: bool | None = None
    exclude_slash_tmp: bool | None = None
    __omit_none__ = frozenset({"network_access", "writable_roots", "exclude_tmpdir_env_var", "exclude_slash_tmp"})

    @classmethod
    def from_mode(cls, mode: str) -> SandboxPolicy:
        if mode == "danger-full-access":
            return cls(type="dangerFullAccess")
        if mode == "workspace-write":
            return cls(
                type="workspaceWrite", writable_roots=[], network_access=False,
                exclude_tmpdir_env_var=False, exclude_slash_tmp=False,
            )
        return cls(type="readOnly", network_access=False)


class TurnError(WireModel):
    message: str
    codex_error_info: Any = None
    additional_details: str | None = None


TurnStatus = Literal["completed", "interrupted", "failed", "inProgress"]


class Turn(WireModel):
    id: str
    # The turn a chain of turns started from (a review's inner turn names its outer one);
    # itself for an ordinary turn.
    root_turn_id: str | None = None
    # Wire dicts of ThreadItems: other layers may emit item kinds this module does not model.
    items: list[Any] = Field(default_factory=list)
    items_view: Literal["notLoaded", "summary", "full"] = "notLoaded"
    status: TurnStatus = "inProgress"
    error: TurnError | None = None
    started_at: int | None = None
    completed_at: int | None = None
    duration_ms: int | None = None

    @model_validator(mode="after")
    def _own_root(self) -> Turn:
        if self.root_turn_id is None:
            self.root_turn_id = self.id
        return self


class EnvironmentSelection(WireModel):
    environment_id: str
    cwd: str
    runtime_workspace_roots: list[str] | None = None


class Thread(WireModel):
    id: str
    session_id: str
    forked_from_id: str | None = None
    attached_to_thread_id: str | None = None
    parent_thread_id: str | None = None
    preview: str = ""
    ephemeral: bool = False
    section: Any = None
    section_entered_at: int | None = None
    project_id: str | None = None
    history_mode: Literal["legacy", "paginated"] = "legacy"
    model_provider: str
    model: str | None = None
    reasoning_effort: str | None = None
    created_at: int
    updated_at: int
    recency_at: int | None = None
    status: ThreadStatus
    path: str | None = None
    cwd: str
    cli_version: str
    originator: str | None = None
    source: Any = "vscode"
    can_accept_direct_input: bool = True
    thread_source: Any = None
    environments: list[EnvironmentSelection] | None = None
    turns: list[Turn] = Field(default_factory=list)
    extra: Any = None
    agent_nickname: str | None = None
    agent_role: str | None = None
    git_info: Any = None
    name: str | None = None
    daybreak_enabled: bool | None = None


# --- requests ---------------------------------------------------------------------------------


class _ThreadSettingsParams(Params):
    model: str | None = None
    model_provider: str | None = None
    cwd: str | None = None
    approval_policy: ApprovalPolicyParam = None
    approvals_reviewer: str | None = None
    sandbox: SandboxMode | None = None
    permissions: str | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    service_tier: str | None = None


class ThreadStartParams(_ThreadSettingsParams):
    ephemeral: bool | None = None
    service_name: str | None = None
    thread_source: Any = None
    # experimental
    environments: list[EnvironmentSelection] | None = None
    selected_capability_roots: list[dict[str, Any]] | None = None
    dynamic_tools: list[Any] | None = None
    history_mode: Literal["legacy", "paginated"] | None = None
    experimental_raw_events: bool | None = None
    multi_agent_mode: Any = None
    mock_experimental_field: str | None = None


EXPERIMENTAL_THREAD_START_FIELDS = (
    "environments",
    "selected_capability_roots",
    "dynamic_tools",
    "history_mode",
    "experimental_raw_events",
    "multi_agent_mode",
    "mock_experimental_field",
)


class ThreadResumeInitialTurnsPage(Params):
    limit: int | None = None
    sort_direction: Literal["asc", "desc"] | None = None
    items_view: Literal["notLoaded", "summary", "full"] | None = None


class ThreadResumeParams(_ThreadSettingsParams):
    thread_id: str
    path: str | None = None
    exclude_turns: bool = False
    initial_turns_page: ThreadResumeInitialTurnsPage | None = None


class ThreadForkParams(_ThreadSettingsParams):
    thread_id: str
    path: str | None = None
    ephemeral: bool = False
    exclude_turns: bool = False


class ThreadIdParams(Params):
    thread_id: str


class ThreadReadParams(Params):
    thread_id: str
    include_turns: bool = False


class ThreadListParams(Params):
    cursor: str | None = None
    limit: int | None = None
    archived: bool | None = None
    model_providers: list[str] | None = None
    search_term: str | None = None
    source_kinds: list[str] | None = None
    section_id: str | None = None
    cwd: str | None = None
    excluded_thread_ids: list[str] | None = None
    parent_thread_id: str | None = None
    sort_key: Literal["created_at", "updated_at", "recency_at", "section_position"] | None = None
    sort_direction: Literal["asc", "desc"] | None = None


class ThreadSetNameParams(Params):
    thread_id: str
    name: str


class TurnStartParams(Params):
    thread_id: str
    input: list[UserInput]
    cwd: str | None = None
    approval_policy: ApprovalPolicyParam = None
    sandbox_policy: dict[str, Any] | None = None
    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    output_schema: Any = None
    client_user_message_id: str | None = None
    environments: list[EnvironmentSelection] | None = None
    collaboration_mode: Any = None


class TurnInterruptParams(Params):
    thread_id: str
    turn_id: str


class TurnSteerParams(Params):
    thread_id: str
    input: list[UserInput]
    expected_turn_id: str


class ThreadLoadedListParams(Params):
    cursor: str | None = None
    limit: int | None = None


class ThreadLoadedListResponse(WireModel):
    data: list[str]
    next_cursor: str | None = None


class ThreadUnsubscribeResponse(WireModel):
    status: Literal["notLoaded", "notSubscribed", "unsubscribed"]


class ModelListParams(Params):
    cursor: str | None = None
    limit: int | None = None
    include_hidden: bool | None = None
    model_provider: str | None = None


# --- responses --------------------------------------------------------------------------------


class ThreadSessionResponse(WireModel):
    """The common shape of thread/start, thread/resume and thread/fork results."""

    thread: Thread
    model: str
    model_provider: str
    service_tier: str | None = None
    disabled_plugin_ids: list[str] = Field(default_factory=list)
    cwd: str
    runtime_workspace_roots: list[str] = Field(default_factory=list)
    instruction_sources: list[str] = Field(default_factory=list)
    approval_policy: ApprovalPolicy
    approvals_reviewer: str = "user"
    sandbox: SandboxPolicy
    active_permission_profile: Any = None
    reasoning_effort: str | None = None
    multi_agent_mode: Any = "explicitRequestOnly"


class ThreadResponse(WireModel):
    thread: Thread


class ThreadListResponse(WireModel):
    data: list[Thread]
    read_states: dict[str, Any] = Field(default_factory=dict)
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class TurnsPageWire(WireModel):
    data: list[Turn]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadResumeResponse(ThreadSessionResponse):
    collaboration_mode: Any = None
    initial_turns_page: TurnsPageWire | None = None
    turns_backwards_cursor: str | None = None
    items_backwards_cursor: str | None = None


class TurnResponse(WireModel):
    turn: Turn


class TurnSteerResponse(WireModel):
    turn_id: str


class EmptyResponse(WireModel):
    pass


class ReasoningEffortOption(WireModel):
    reasoning_effort: str
    description: str


class ModelInfo(WireModel):
    id: str
    model: str
    upgrade: str | None = None
    upgrade_info: Any = None
    availability_nux: Any = None
    display_name: str
    description: str
    model_specialty: str | None = None
    hidden: bool = False
    supported_reasoning_efforts: list[ReasoningEffortOption] = Field(default_factory=list)
    default_reasoning_effort: str = "medium"
    input_modalities: list[str] = Field(default_factory=lambda: ["text"])
    supports_personality: bool = False
    multi_agent_version: str | None = None
    additional_speed_tiers: list[str] = Field(default_factory=list)
    service_tiers: list[Any] = Field(default_factory=list)
    default_service_tier: str | None = None
    available_access_programs: list[str] | None = None
    is_default: bool = False


class ModelListResponse(WireModel):
    data: list[ModelInfo]
    next_cursor: str | None = None
