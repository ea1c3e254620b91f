"""Wire shapes of the MCP app-server methods and notifications (0.169 schemas, camelCase)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from rootstep.protocol.base import WireModel

McpAuthStatusValue = Literal["unknown", "unsupported", "notLoggedIn", "bearerToken", "oAuth"]
McpConnectionStatus = Literal[
    "notStarted", "starting", "connected", "authenticationRequired", "failed", "cancelled", "disabled"
]


class McpServerStartupStatusUpdated(WireModel):
    """``mcpServer/startupStatus/updated``."""

    METHOD: ClassVar[str] = "mcpServer/startupStatus/updated"
    thread_id: str | None = None
    name: str
    status: Literal["starting", "ready", "failed", "cancelled"]
    error: str | None = None
    failure_reason: Literal["reauthenticationRequired"] | None = None
    __omit_none__ = frozenset({"failure_reason"})


class ListMcpServerStatusParams(WireModel):
    cursor: str | None = None
    limit: int | None = Field(default=None, ge=0)
    detail: Literal["full", "toolsAndAuthOnly"] | None = None
    thread_id: str | None = None
    server_name: str | None = None


class McpServerInfo(WireModel):
    name: str
    title: str | None = None
    version: str
    description: str | None = None
    icons: list[Any] | None = None
    website_url: str | None = None


class McpServerStatus(WireModel):
    name: str
    server_info: McpServerInfo | None = None
    tools: dict[str, Any] = Field(default_factory=dict)
    resources: list[Any] = Field(default_factory=list)
    resource_templates: list[Any] = Field(default_factory=list)
    auth_status: McpAuthStatusValue = "unsupported"
    plugin_id: str | None = None
    http_origin: str | None = None
    server_capabilities: Any = None
    tool_list_meta: Any = None
    tools_error: str | None = None
    runtime_status: McpConnectionStatus | None = None


class ListMcpServerStatusResponse(WireModel):
    data: list[McpServerStatus]
    next_cursor: str | None = None


class McpServerToolCallParams(WireModel):
    thread_id: str
    server: str
    tool: str
    arguments: Any = None
    meta: Any = Field(default=None, alias="_meta")


class McpServerToolCallResponse(WireModel):
    content: list[Any]
    structured_content: Any = None
    is_error: bool | None = None
    meta: Any = Field(default=None, alias="_meta")
    __omit_none__ = frozenset({"structured_content", "is_error", "meta"})


class McpToolCallProgress(WireModel):
    """``item/mcpToolCall/progress``: an MCP progress notification of a running call."""

    METHOD: ClassVar[str] = "item/mcpToolCall/progress"
    thread_id: str
    turn_id: str
    item_id: str
    message: str


class McpResourceReadTarget(WireModel):
    """An explicit hosted app/account (``codex_apps`` only; ordinary servers ignore it)."""

    connector_id: str
    link_id: str | None = None


class McpResourceReadParams(WireModel):
    """``mcpServer/resource/read``: without ``threadId`` the latest config.toml servers answer."""

    thread_id: str | None = None
    server: str
    uri: str
    meta: dict[str, Any] | None = Field(default=None, alias="_meta")
    connector_id: str | None = None
    origin_call_id: str | None = None
    target: McpResourceReadTarget | None = None


class TextResourceContent(WireModel):
    uri: str
    mime_type: str | None = None
    text: str
    meta: Any = Field(default=None, alias="_meta")
    __omit_none__ = frozenset({"mime_type", "meta"})


class BlobResourceContent(WireModel):
    uri: str
    mime_type: str | None = None
    blob: str
    meta: Any = Field(default=None, alias="_meta")
    __omit_none__ = frozenset({"mime_type", "meta"})


class McpResourceReadResponse(WireModel):
    """The contents as the server sent them; ``originCallId`` is always null (no app scoping)."""

    contents: list[TextResourceContent | BlobResourceContent]
    origin_call_id: str | None = None
