"""A StepToolsProvider loaded into the app-server subprocess via ROOTSTEP_TOOLS_FACTORY."""

from __future__ import annotations

import json
from typing import Any

from rootstep.tools import FunctionCall, ItemSink, StepTools, ThreadToolsContext
from rootstep.protocol.items import McpToolCallItem, McpToolCallResult


class _Step:
    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id

    def model_tools(self) -> list[dict[str, Any]]:
        return [{"type": "namespace", "name": "mcp__pyecho", "description": "echo server",
                 "tools": [{"type": "function", "name": "echo", "description": "Echo a message",
                            "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}}]}]

    def handles(self, call: FunctionCall) -> bool:
        return call.namespace == "mcp__pyecho" and call.name == "echo"

    async def execute(self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str) -> str:
        args = json.loads(call.arguments or "{}")
        item = McpToolCallItem(id=call.call_id, server="pyecho", tool="echo", arguments=args, plugin_id="demo@1")
        await sink.started(item)
        text = f"ECHOING: {args.get('message')}"
        await sink.completed(item.model_copy(update={
            "status": "completed", "duration_ms": 1,
            "result": McpToolCallResult(content=[{"type": "text", "text": text}], structured_content={"echo": text}),
        }))
        return text

    async def aclose(self) -> None:
        return None


class _Provider:
    def __init__(self, context: ThreadToolsContext) -> None:
        self.context = context

    async def capture_step(self) -> StepTools:
        return _Step(self.context.thread_id)

    async def aclose(self) -> None:
        return None


def factory(server: Any):  # noqa: ANN201
    assert server.config is not None
    return _Provider
