"""User inputs and thread items (``ThreadItem``, tagged by ``type``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from rootstep.protocol.base import WireModel


class TextInput(WireModel):
    type: Literal["text"] = "text"
    text: str
    # snake_case on the wire, even in camelCase land.
    text_elements: list[dict[str, Any]] = Field(default_factory=list, alias="text_elements")


class ImageInput(WireModel):
    type: Literal["image"] = "image"
    url: str | None = None
    file_id: str | None = None
    detail: str | None = None
    __omit_none__ = frozenset({"url", "file_id"})


class LocalImageInput(WireModel):
    type: Literal["localImage"] = "localImage"
    path: str
    detail: str | None = None


class AudioInput(WireModel):
    type: Literal["audio"] = "audio"
    url: str | None = None
    file_id: str | None = None
    __omit_none__ = frozenset({"url", "file_id"})


class LocalAudioInput(WireModel):
    type: Literal["localAudio"] = "localAudio"
    path: str


class SkillInput(WireModel):
    type: Literal["skill"] = "skill"
    name: str
    path: str


class MentionInput(WireModel):
    type: Literal["mention"] = "mention"
    name: str
    path: str


UserInput = Annotated[
    TextInput | ImageInput | LocalImageInput | AudioInput | LocalAudioInput | SkillInput | MentionInput,
    Field(discriminator="type"),
]


class UserMessageItem(WireModel):
    type: Literal["userMessage"] = "userMessage"
    id: str
    client_id: str | None = None
    content: list[UserInput]


class AgentMessageItem(WireModel):
    type: Literal["agentMessage"] = "agentMessage"
    id: str
    text: str
    phase: str | None = None
    memory_citation: Any = None


class McpToolCallResult(WireModel):
    content: list[Any] = Field(default_factory=list)
    structured_content: Any = None
    meta: Any = Field(default=None, alias="_meta")


class McpToolCallError(WireModel):
    message: str


class McpAppContext(WireModel):
    connector_id: str
    link_id: str | None = None
    resource_uri: str | None = None
    app_name: str | None = None
    action_name: str | None = None


class McpToolCallItem(WireModel):
    """One MCP tool call as the client sees it (spec §2.12); ``id`` is the model's call_id."""

    type: Literal["mcpToolCall"] = "mcpToolCall"
    id: str
    server: str
    tool: str
    status: Literal["inProgress", "completed", "failed"] = "inProgress"
    arguments: Any = None
    app_context: McpAppContext | None = None
    mcp_app_resource_uri: str | None = None
    plugin_id: str | None = None
    result: McpToolCallResult | None = None
    error: McpToolCallError | None = None
    duration_ms: int | None = None
    __omit_none__ = frozenset({"mcp_app_resource_uri"})


class EnteredReviewModeItem(WireModel):
    type: Literal["enteredReviewMode"] = "enteredReviewMode"
    id: str
    review: str


class ExitedReviewModeItem(WireModel):
    type: Literal["exitedReviewMode"] = "exitedReviewMode"
    id: str
    review: str


class ContextCompactionItem(WireModel):
    type: Literal["contextCompaction"] = "contextCompaction"
    id: str


ThreadItem = Annotated[
    UserMessageItem | AgentMessageItem | McpToolCallItem, Field(discriminator="type")
]
