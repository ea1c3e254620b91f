"""Pydantic models of the app-server v2 wire shapes we send or accept (camelCase)."""

from rootstep.protocol.base import Params, WireModel, wire
from rootstep.protocol.items import (
    AgentMessageItem,
    McpAppContext,
    McpToolCallError,
    McpToolCallItem,
    McpToolCallResult,
    TextInput,
    ThreadItem,
    UserInput,
    UserMessageItem,
)

__all__ = [
    "AgentMessageItem",
    "McpAppContext",
    "McpToolCallError",
    "McpToolCallItem",
    "McpToolCallResult",
    "Params",
    "TextInput",
    "ThreadItem",
    "UserInput",
    "UserMessageItem",
    "WireModel",
    "wire",
]
