"""A stand-in for the hosted apps MCP server (``codex_apps``), written with the ``mcp`` SDK.

``python apps_server.py PORT`` serves streamable HTTP on 127.0.0.1 at ``/api/codex/ps/mcp``
(the path rootstep derives from ``chatgpt_base_url = "http://127.0.0.1:PORT"``) and prints
``LISTENING <port>`` on stderr. It lists one connector tool (``calendar_create_event`` of
connector ``calendar``/``Calendar``) and records each request's ``Authorization`` header in
``$APPS_AUTH_FILE``.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server

PATH = "/api/codex/ps/mcp"


async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    tool = types.Tool(
        name="calendar_create_event",
        description="Create a calendar event",
        input_schema={"type": "object", "properties": {"title": {"type": "string"}}},
        annotations=types.ToolAnnotations(read_only_hint=True),
        _meta={"connector_id": "calendar", "connector_name": "Calendar"},
    )
    return types.ListToolsResult(tools=[tool])


async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> Any:
    title = (params.arguments or {}).get("title", "")
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"created {title}")])


class RecordAuth:
    def __init__(self, app: Any, path: str | None) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and self.path:
            headers = dict(scope.get("headers") or [])
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(headers.get(b"authorization", b"").decode() + "\n")
        await self.app(scope, receive, send)


def main() -> None:
    import uvicorn

    server = Server("apps", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)
    app = RecordAuth(server.streamable_http_app(streamable_http_path=PATH), os.environ.get("APPS_AUTH_FILE"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    sock.listen(128)
    print(f"LISTENING {sock.getsockname()[1]}", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])


if __name__ == "__main__":
    main()
