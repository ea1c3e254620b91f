"""A tool source loaded into the app-server subprocess via ROOTSTEP_TOOLS_FACTORY."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rootstep.config import Config
from rootstep.protocol.items import McpToolCallItem, McpToolCallResult
from rootstep.tools import CallContext, FunctionCall, StepTools, ThreadToolsContext


class _Step:
    def model_tools(self) -> list[dict[str, Any]]:
        return [{"type": "namespace", "name": "mcp__pyecho", "description": "echo server",
                 "tools": [{"type": "function", "name": "echo", "description": "Echo a message",
                            "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}}]}]

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return []

    def handles(self, call: FunctionCall) -> bool:
        return call.namespace == "mcp__pyecho" and call.name == "echo"

    async def execute(self, call: FunctionCall, ctx: CallContext) -> str:
        args = json.loads(call.arguments or "{}")
        item = McpToolCallItem(id=call.call_id, server="pyecho", tool="echo", arguments=args, plugin_id="demo@1")
        await ctx.items.started(item)
        text = f"ECHOING: {args.get('message')}"
        await ctx.items.completed(item.model_copy(update={
            "status": "completed", "duration_ms": 1,
            "result": McpToolCallResult(content=[{"type": "text", "text": text}], structured_content={"echo": text}),
        }))
        return text

    async def aclose(self) -> None:
        return None


class _Source:
    def __init__(self, context: ThreadToolsContext) -> None:
        self.context = context

    async def capture(self) -> StepTools:
        return _Step()

    async def aclose(self) -> None:
        return None


def factory(config: Config):  # noqa: ANN201
    assert config.home is not None
    return _Source
