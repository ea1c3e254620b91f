"""MCP methods of the app-server: ``mcpServerStatus/list``, ``mcpServer/tool/call``,
``mcpServer/resource/read``, ``config/mcpServer/reload``.

The logic lives in :mod:`rootstep.mcp`; with a ``threadId`` the thread's own servers are used
(:class:`~rootstep.extensions.thread_mcp.ThreadMcp`, from the MCP service), without one the
latest config.toml servers. This module resolves threads and maps errors to JSON-RPC codes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rootstep import preload
from rootstep.app_server.context import RequestContext, loaded_thread
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, JsonRpcError
from rootstep.mcp.wire import (
    ListMcpServerStatusParams,
    McpResourceReadParams,
    McpServerToolCallParams,
)
from rootstep.protocol.thread import EmptyResponse

if TYPE_CHECKING:
    from rootstep.app_server.mcp_service import McpService
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices
    from rootstep.extensions.thread_mcp import ThreadMcp

# rootstep.mcp.{status,resources} import the mcp SDK (~0.8 s of CPU on a small machine): the
# handlers that use them import them, so the first thread/start after initialize does not wait.

log = logging.getLogger(__name__)


def _service(ctx: RequestContext) -> McpService:
    return ctx.server.services.mcp


def thread_mcp(ctx: RequestContext, thread_id: str) -> ThreadMcp | None:
    """The loaded thread's MCP (-32600 for a thread that is not loaded)."""
    loaded_thread(ctx, thread_id)
    return _service(ctx).for_thread(thread_id)


async def list_status(ctx: RequestContext, params: ListMcpServerStatusParams) -> Any:
    await preload.ready()
    from rootstep.mcp.status import McpRequestError, list_server_status

    service = _service(ctx)
    servers, runtime, cwd, provenance = service.servers, None, None, None
    if params.thread_id is not None:
        cwd = loaded_thread(ctx, params.thread_id).settings.cwd
        mcp = service.for_thread(params.thread_id)
        if mcp is not None:  # the thread's projection for the roots ready now
            servers, published, provenance = await mcp.status_view()
            runtime = published.acquire() if published is not None and not published.closed else None
    try:
        return await list_server_status(
            servers, params, transports=service.transports(cwd), runtime=runtime, auth_status=service.auth_status,
            provenance=provenance,
        )
    except McpRequestError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    finally:
        if runtime is not None:
            await runtime.release()


async def call_tool(ctx: RequestContext, params: McpServerToolCallParams) -> Any:
    mcp = thread_mcp(ctx, params.thread_id)
    if mcp is None:
        raise JsonRpcError(INTERNAL_ERROR, f"unknown MCP server '{params.server}'")
    await preload.ready()
    from rootstep.mcp.status import McpRequestError, call_server_tool

    runtime = await mcp.resolve()
    try:
        return await call_server_tool(runtime, params)
    except McpRequestError as exc:
        raise JsonRpcError(INTERNAL_ERROR, str(exc)) from None
    finally:
        await runtime.release()


async def read_resource(ctx: RequestContext, params: McpResourceReadParams) -> Any:
    """With ``threadId``: the thread's current servers; without: the latest config.toml ones."""
    await preload.ready()
    from rootstep.mcp.resources import (
        ResourceReadError,
        read_resource_without_thread,
        read_thread_resource,
        unknown_server,
    )

    service = _service(ctx)
    try:
        if params.thread_id is None:
            async with service.temporary_servers.slot():
                return await read_resource_without_thread(
                    service.servers, params.server, params.uri, transports=service.transports(None), meta=params.meta
                )
        mcp = thread_mcp(ctx, params.thread_id)
        if mcp is None:
            raise unknown_server(params.server)
        runtime = await mcp.resolve()
        try:
            return await read_thread_resource(runtime, params.server, params.uri, meta=params.meta)
        finally:
            await runtime.release()
    except ResourceReadError as exc:
        raise JsonRpcError(exc.code, exc.message, exc.data) from None


async def reload_servers(ctx: RequestContext, params: Any) -> EmptyResponse:
    try:
        _service(ctx).reload()
    except Exception as exc:  # noqa: BLE001 - a broken config.toml is the request's error
        raise JsonRpcError(INTERNAL_ERROR, f"failed to refresh MCP servers: {exc}") from None
    return EmptyResponse()


def register(table: MethodTable, services: AppServices) -> None:
    table.add("mcpServerStatus/list", list_status, ListMcpServerStatusParams)
    table.add("mcpServer/tool/call", call_tool, McpServerToolCallParams)
    table.add("mcpServer/resource/read", read_resource, McpResourceReadParams)
    table.add("config/mcpServer/reload", reload_servers, None)
