"""``mcpServer/resource/read`` (codex 0.169) as functions.

With a ``threadId`` the read goes to the thread's *current* runtime (the servers a step starting
now would see: config.toml servers plus the selected roots' plugin servers), so a thread never
reaches another thread's servers. Without one, like the reference, a temporary manager starts
just the named server of the latest config.toml and closes it before returning.

Errors follow what the 0.169 binary answers (checked against it): the server's own JSON-RPC
error is passed through unchanged (e.g. ``-32002 Resource not found: <uri>``); an unknown or
disabled server is ``-32603 unknown MCP server '<name>'``; a server that failed to start is
``-32603 failed to get client: <startup error>``.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from rootstep.config.mcp_servers import McpServersConfig
from rootstep.jsonrpc import INTERNAL_ERROR
from rootstep.mcp.connection import McpConnection
from rootstep.mcp.manager import ConnectionManager, ToolCallTimeout
from rootstep.mcp.runtime import McpRuntime
from rootstep.mcp.startup import ServerGone, describe_error
from rootstep.mcp.transports.factory import TransportFactory
from rootstep.mcp.wire import BlobResourceContent, McpResourceReadResponse, TextResourceContent


class ResourceReadError(Exception):
    """The JSON-RPC error the request is answered with (code, message, optional data)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def unknown_server(server: str) -> ResourceReadError:
    return ResourceReadError(INTERNAL_ERROR, f"unknown MCP server '{server}'")


def read_failure(server: str, uri: str, exc: BaseException, connection: McpConnection | None) -> ResourceReadError:
    """Why a read failed, as the reference words it. Pure: decides from the exception and the
    connection's state only."""
    if isinstance(exc, ServerGone):
        if connection is None:
            return unknown_server(server)
        # The reference reports the startup error without the ``MCP client for ...`` prefix.
        reason = connection.tools_error if connection.state == "failed" and connection.tools_error else None
        return ResourceReadError(INTERNAL_ERROR, f"failed to get client: {reason or connection.error or exc}")
    context = f"resources/read failed for `{server}` ({uri})"
    if isinstance(exc, MCPError) and exc.error.code == types.CONNECTION_CLOSED:
        return ResourceReadError(
            INTERNAL_ERROR, f"{context}: MCP server `{server}` closed the connection (it exited or crashed)"
        )
    if isinstance(exc, MCPError):
        # The server answered with an error: the client gets it as the server sent it.
        return ResourceReadError(exc.error.code, exc.error.message, exc.error.data)
    if isinstance(exc, ToolCallTimeout):
        return ResourceReadError(
            INTERNAL_ERROR, f"{context}: timed out awaiting resources/read after {int(exc.seconds * 1000)}ms"
        )
    if isinstance(exc, ValidationError):
        return ResourceReadError(INTERNAL_ERROR, f"{context}: MCP server `{server}` returned a malformed result")
    return ResourceReadError(INTERNAL_ERROR, f"{context}: {describe_error(exc)}")


def response_from_result(result: types.ReadResourceResult) -> McpResourceReadResponse:
    """The SDK result in the app-server's shape: text and blob contents, fields as sent. Pure."""
    contents: list[TextResourceContent | BlobResourceContent] = []
    for item in result.contents:
        if isinstance(item, types.TextResourceContents):
            contents.append(
                TextResourceContent(uri=str(item.uri), mime_type=item.mime_type, text=item.text, meta=item.meta)
            )
        else:
            contents.append(
                BlobResourceContent(uri=str(item.uri), mime_type=item.mime_type, blob=item.blob, meta=item.meta)
            )
    return McpResourceReadResponse(contents=contents)


async def _read(manager: Any, server: str, uri: str, meta: dict[str, Any] | None) -> McpResourceReadResponse:
    try:
        result = await manager.read_resource(server, uri, meta=meta)
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is the request's error
        raise read_failure(server, uri, exc, manager.connection(server)) from exc
    return response_from_result(result)


async def read_thread_resource(
    runtime: McpRuntime, server: str, uri: str, *, meta: dict[str, Any] | None = None
) -> McpResourceReadResponse:
    """Read ``uri`` from ``server`` of a thread's runtime (acquired by the caller)."""
    config = runtime.servers.get(server)
    if config is None or not config.enabled:
        raise unknown_server(server)
    return await _read(runtime.manager, server, uri, meta)


async def read_resource_without_thread(
    servers: McpServersConfig,
    server: str,
    uri: str,
    *,
    transports: TransportFactory,
    meta: dict[str, Any] | None = None,
) -> McpResourceReadResponse:
    """Read ``uri`` from a config.toml server started for this request only."""
    config = servers.servers.get(server)
    if config is None or not config.enabled:
        raise unknown_server(server)
    async with ConnectionManager({server: config}, transports=transports) as manager:
        return await _read(manager, server, uri, meta)
