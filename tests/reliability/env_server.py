"""A stdio MCP server (the ``mcp`` SDK's low-level server) with one tool, ``environ``, whose
structured result is this process's whole environment: the isolation tests check that nothing
but the declared variables (and the pass-through defaults) ever reaches a server.

``ENV_SERVER_NAME`` (if set) becomes the server's name in ``initialize``.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

TOOL = types.Tool(
    name="environ",
    description="Return the server's environment.",
    input_schema={"type": "object", "properties": {}},
    annotations=types.ToolAnnotations(read_only_hint=True),
)


async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[TOOL])


async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> Any:
    env = dict(os.environ)
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"{len(env)} variables")],
                                structured_content={"env": env})


async def main() -> None:
    server = Server(os.environ.get("ENV_SERVER_NAME", "env-server"), version="1.0.0",
                    on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
