"""``mcpServerStatus/list`` (spec §8) and ``mcpServer/tool/call`` (spec §2.7) as functions.

The app-server processor resolves the thread and its server set, then calls these. Listing
starts a *temporary* manager for the page's enabled servers (separate processes from any
thread runtime) and closes it before returning.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio

from rootstep.config.mcp_servers import HttpTransport, McpServerConfig, McpServersConfig
from rootstep.mcp.catalog import ServerProvenance
from rootstep.mcp.connection import McpConnection
from rootstep.mcp.manager import ConnectionManager
from rootstep.mcp.output import direct_call_response
from rootstep.mcp.runtime import McpRuntime
from rootstep.mcp.tools import tool_json
from rootstep.mcp.transports.factory import TransportFactory
from rootstep.mcp.wire import (
    ListMcpServerStatusParams,
    ListMcpServerStatusResponse,
    McpServerInfo,
    McpServerStatus,
    McpServerToolCallParams,
    McpServerToolCallResponse,
)

AuthStatusFn = Callable[[str, McpServerConfig], Awaitable[str]]


class McpRequestError(ValueError):
    """A request-level error; the processor answers ``-32600``/``-32603`` with this text."""


def page_bounds(total: int, cursor: str | None, limit: int | None) -> tuple[int, int]:
    """Spec §8 pagination: ``start = int(cursor)``, ``limit`` default total, minimum 1. Pure."""
    start = 0
    if cursor is not None:
        try:
            start = int(cursor)
        except ValueError:
            raise McpRequestError(f"invalid cursor: {cursor}") from None
        if start < 0:
            raise McpRequestError(f"invalid cursor: {cursor}")
    if start > total:
        raise McpRequestError(f"cursor {start} exceeds total MCP servers {total}")
    size = total if limit is None else limit
    size = max(1, size)
    return start, min(total, start + size)


def http_origin(config: McpServerConfig) -> str | None:
    """Scheme://host[:port] of an HTTP server, credentials/path/query dropped."""
    if not isinstance(config.transport, HttpTransport):
        return None
    parts = urlsplit(config.transport.url)
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


async def default_auth_status(name: str, config: McpServerConfig) -> str:
    """Without a credential store: stdio → unsupported; configured bearer → bearerToken."""
    from rootstep.mcp.oauth.status import has_configured_bearer

    transport = config.transport
    if not config.enabled or not isinstance(transport, HttpTransport):
        return "unsupported"
    return "bearerToken" if has_configured_bearer(transport) else "unsupported"


def _runtime_status(runtime: McpRuntime | None, name: str, config: McpServerConfig | None) -> str | None:
    """The thread runtime's view of the server; None without a thread (like the reference)."""
    if runtime is None or runtime.closed:
        return None
    if config is not None and not config.enabled:
        return "disabled"
    if runtime.servers.get(name) != config:
        return None  # the thread runtime runs another configuration of this name
    connection = runtime.manager.connection(name)
    if connection is None:
        return "notStarted"
    if connection.state == "ready":
        return "failed" if connection.lost else "connected"
    if connection.state == "failed" and getattr(connection, "login_required", False):
        return "authenticationRequired"
    return connection.state


def _server_info(connection: McpConnection | None) -> McpServerInfo | None:
    info = connection.server_info if connection is not None and connection.state == "ready" else None
    if info is None:
        return None
    return McpServerInfo(
        name=info.name, title=info.title, version=info.version or "", description=info.description,
        icons=[i.model_dump(by_alias=True, mode="json", exclude_none=True) for i in info.icons] if info.icons else None,
        website_url=info.website_url,
    )


def _live_connections(runtime: McpRuntime | None, enabled: Mapping[str, McpServerConfig]) -> dict[str, McpConnection]:
    """The thread's ready connections whose server config is the listed one."""
    if runtime is None or runtime.closed:
        return {}
    live = {}
    for name, config in enabled.items():
        connection = runtime.manager.connection(name) if runtime.servers.get(name) == config else None
        if connection is not None and connection.state == "ready" and connection.session is not None:
            live[name] = connection
    return live


async def list_server_status(
    servers: McpServersConfig,
    params: ListMcpServerStatusParams,
    *,
    transports: TransportFactory,
    auth_status: AuthStatusFn = default_auth_status,
    provenance: Mapping[str, ServerProvenance] | None = None,
    runtime: McpRuntime | None = None,
) -> ListMcpServerStatusResponse:
    """One page of server statuses, names sorted; tools keyed by raw name."""
    provenance = provenance or {}
    names = sorted(set(servers.servers) | set(servers.errors))
    if params.server_name is not None:
        names = [n for n in names if n == params.server_name]
    start, end = page_bounds(len(names), params.cursor, params.limit)
    page = names[start:end]
    full = params.detail in (None, "full")
    enabled = {n: servers.servers[n] for n in page if n in servers.servers and servers.servers[n].enabled}

    # A server the thread runs with this very config answers from its live connection; only the
    # others are started for the listing (as the reference starts them all).
    # (Unless its login has lapsed since: an open session is no proof of a usable login.)
    auth: dict[str, str] = {}

    async def read_auth(name: str) -> None:
        auth[name] = await auth_status(name, servers.servers[name])

    live = _live_connections(runtime, enabled)
    async with anyio.create_task_group() as tg:
        for name in live:
            tg.start_soon(read_auth, name)
    live = {n: c for n, c in live.items() if auth[n] != "notLoggedIn"}
    entries: dict[str, McpServerStatus] = {}
    temporary = {n: c for n, c in enabled.items() if n not in live}
    async with ConnectionManager(temporary, transports=transports) as manager:
        await manager.wait_ready()

        async def collect(name: str) -> None:
            config = servers.servers.get(name)
            owner: Any = runtime.manager if name in live and runtime is not None else manager
            connection = live.get(name) or manager.connection(name)
            origin = provenance.get(name, ServerProvenance())
            entry = McpServerStatus(
                name=name,
                server_info=_server_info(connection),
                auth_status="unsupported",
                plugin_id=origin.plugin_id,
                http_origin=http_origin(config) if config else None,
                runtime_status=_runtime_status(runtime, name, config),
            )
            if config is None:
                entry.tools_error = servers.errors.get(name)
            else:
                # Read after the temporary connections tried: a refresh they found revoked counts.
                entry.auth_status = auth.get(name) or await auth_status(name, config)  # type: ignore[assignment]
            if connection is not None and connection.state == "ready":
                entry.tools = {t.name: tool_json(t, origin.display_names) for t in connection.tools}
                session = connection.session
                caps = session.server_capabilities if session is not None else None
                entry.server_capabilities = (
                    caps.model_dump(by_alias=True, mode="json", exclude_none=True) if caps else None
                )
                if full:
                    resources, templates = await owner.list_resources(name)
                    entry.resources = [r.model_dump(by_alias=True, mode="json", exclude_none=True) for r in resources]
                    entry.resource_templates = [
                        t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in templates
                    ]
            elif connection is not None:
                entry.tools_error = connection.tools_error or connection.error
            entries[name] = entry

        async with anyio.create_task_group() as tg:
            for name in page:
                tg.start_soon(collect, name)
    next_cursor = str(end) if end < len(names) else None
    return ListMcpServerStatusResponse(data=[entries[n] for n in page], next_cursor=next_cursor)


def meta_with_thread(meta: Any, thread_id: str) -> Any:
    """Spec §2.7 step 2: object meta gains ``threadId``; absent → ``{threadId}``; else unchanged."""
    if meta is None:
        return {"threadId": thread_id}
    if isinstance(meta, dict):
        return {**meta, "threadId": thread_id}
    return meta


async def call_server_tool(runtime: McpRuntime, params: McpServerToolCallParams) -> McpServerToolCallResponse:
    """``mcpServer/tool/call`` on a thread's current runtime (raw tool name, no namespacing).

    Raises McpRequestError with the spec's texts (unknown server, disabled tool) and for
    call failures (the processor maps it to ``-32603``).
    """
    config = runtime.servers.get(params.server)
    if config is None or not config.enabled:
        raise McpRequestError(f"unknown MCP server '{params.server}'")
    if not config.tool_allowed(params.tool):
        raise McpRequestError(f"tool '{params.tool}' is disabled for MCP server '{params.server}'")
    arguments = params.arguments
    if arguments is not None and not isinstance(arguments, dict):
        raise McpRequestError("arguments must be a JSON object")
    meta = meta_with_thread(params.meta, params.thread_id)
    from rootstep.mcp.step_tools import call_error_text

    try:
        result = await runtime.manager.call_tool(
            params.server, params.tool, arguments, meta=meta if isinstance(meta, dict) else None
        )
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:  # noqa: BLE001
        raise McpRequestError(call_error_text(params.server, params.tool, exc)) from exc
    data = direct_call_response(result)
    return McpServerToolCallResponse(
        content=data["content"],
        structured_content=data.get("structuredContent"),
        is_error=data.get("isError"),
        meta=data.get("_meta"),
    )
