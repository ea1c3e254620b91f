"""The demo plugin's MCP server: a tiny note book, written with the official `mcp` SDK.

It runs wherever the plugin lives (the local machine or an executor) and reports the name of
that place from `DEMO_EXECUTOR_NAME`, which only the executor's environment defines.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("demo-notes", instructions="A note book kept by the demo plugin.")
_notes: list[str] = []


# Adding a note changes nothing outside this process: not destructive, not open-world, so
# clients may run it without asking.
@server.tool(
    description="Add a note and return how many notes there are.",
    annotations=ToolAnnotations(destructive_hint=False, open_world_hint=False),
)
def add_note(text: str) -> dict:
    _notes.append(text)
    return {"count": len(_notes), "where": os.environ.get("DEMO_EXECUTOR_NAME", "unknown")}


@server.tool(description="List every note taken so far.", annotations=ToolAnnotations(read_only_hint=True))
def list_notes() -> dict:
    return {"notes": list(_notes), "where": os.environ.get("DEMO_EXECUTOR_NAME", "unknown")}


if __name__ == "__main__":
    server.run("stdio")
