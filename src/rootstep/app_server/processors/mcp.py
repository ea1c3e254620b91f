"""MCP methods of the app-server: ``mcpServerStatus/list``, ``mcpServer/tool/call``,
``mcpServer/resource/read``, ``config/mcpServer/reload``; and the config.toml tools provider
for threads.

The logic lives in :mod:`rootstep.mcp`; this module resolves threads, maps errors to JSON-RPC
codes and keeps the latest ``[mcp_servers]`` (re-read on reload) in the ``mcp`` service.
Thread tools providers are duck-typed: any provider with ``servers``, ``runtime``,
``current_runtime()`` and ``request_refresh()`` (like :class:`McpToolsProvider`) takes part.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.app_server.connection import OVERLOADED_MESSAGE
from rootstep.app_server.context import RequestContext
from rootstep.core.manager import ThreadError
from rootstep.core.step_tools import ThreadToolsContext, empty_provider_factory
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, OVERLOADED, JsonRpcError
from rootstep.mcp.config import McpServersConfig, parse_mcp_servers
from rootstep.mcp.wire import ListMcpServerStatusParams, McpResourceReadParams, McpServerToolCallParams
from rootstep.protocol.thread import EmptyResponse

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer
    from rootstep.mcp.elicitation import ElicitationRequestParams, ElicitationResponse, ElicitationRouter
    from rootstep.mcp.status import AuthStatusFn
    from rootstep.mcp.step_tools import McpToolsProvider
    from rootstep.mcp.transports.factory import AuthLookup, DefaultTransports

# rootstep.mcp.{status,step_tools,elicitation,transports} import the mcp SDK (~1 s of CPU on a
# small machine): they are imported by the handlers that use them, so registering this
# processor, and the first thread/start after initialize, do not wait for it.

log = logging.getLogger(__name__)

# ``mcpServer/resource/read`` without a ``threadId`` starts a temporary copy of the server: at
# most this many run at once in the process (codex 0.169 starts ~230 before its queue answers
# -32001; 1,000 requests used to start 1,000 processes here), and a request that would wait
# behind more than WAITING_PER_SLOT times as many is answered -32001 at once.
MAX_TEMPORARY_SERVERS = 16
MAX_TEMPORARY_SERVERS_ENV = "ROOTSTEP_MAX_TEMPORARY_MCP_SERVERS"
WAITING_PER_SLOT = 8


class TemporaryServerSlots:
    """A process-wide bound on temporary MCP servers, with a bounded wait for a slot."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = anyio.Semaphore(limit)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TemporaryServerSlots:
        raw = environ.get(MAX_TEMPORARY_SERVERS_ENV, "").strip()
        limit = int(raw) if raw.isdigit() and int(raw) > 0 else MAX_TEMPORARY_SERVERS
        return cls(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot; ``-32001`` (codex's overload answer) when too many already wait."""
        if self._slots.value == 0 and self._slots.statistics().tasks_waiting >= self.limit * WAITING_PER_SLOT:
            raise JsonRpcError(OVERLOADED, OVERLOADED_MESSAGE)
        async with self._slots:
            yield


class McpService:
    """The server-wide MCP state: latest config servers, how transports are made."""

    def __init__(self, server: AppServer) -> None:
        self.server = server
        self.servers: McpServersConfig = parse_mcp_servers(server.config.raw)
        # HTTP servers are authorized with stored OAuth tokens (:attr:`tokens`) unless another
        # layer sets these.
        self.auth_lookup: AuthLookup | None = None
        self.auth_status: AuthStatusFn = self._oauth_status
        self._tokens: Any = None
        self.temporary_servers = TemporaryServerSlots.from_environment()

    @property
    def tokens(self) -> Any:
        """The process-wide ``TokenManager`` (created on first use: it may probe a keyring)."""
        if self._tokens is None:
            from rootstep.mcp.oauth import OAuthSettings, TokenManager

            raw = self.server.config.raw
            mode = raw.get("mcp_oauth_credentials_store", "auto")
            port = raw.get("mcp_oauth_callback_port")
            url = raw.get("mcp_oauth_callback_url")
            settings = OAuthSettings(
                codex_home=self.server.config.home,
                credentials_store=mode if mode in ("auto", "file", "keyring") else "auto",
                callback_port=port if isinstance(port, int) else None,
                callback_url=url if isinstance(url, str) else None,
            )
            self._tokens = TokenManager.from_settings(settings)
        return self._tokens

    async def _oauth_status(self, name: str, config: Any) -> str:
        """Spec §7.3/§8: bearer, stored OAuth tokens, or OAuth discovery decide it."""
        if not config.enabled or config.is_stdio:
            from rootstep.mcp.status import default_auth_status

            return await default_auth_status(name, config)
        import httpx2

        from rootstep.mcp.oauth import auth_status

        async with httpx2.AsyncClient(timeout=httpx2.Timeout(10.0), trust_env=True) as client:
            return await auth_status(name, config, store=self.tokens.store, http_client=client)

    def _environment(self, env_id: str) -> Any:
        environments = self.server.services.get("environments")
        getter = getattr(environments, "get", None)
        return getter(env_id) if getter is not None else None

    def transports(self, cwd: str | None, elicitation: ElicitationRouter | None = None) -> DefaultTransports:
        from rootstep.mcp.transports.factory import DefaultTransports

        return DefaultTransports(environments=self._environment, default_cwd=cwd, auth=self._auth, elicitation=elicitation)

    async def ask_client(self, params: ElicitationRequestParams) -> ElicitationResponse:
        """Send ``mcpServer/elicitation/request`` to the clients following the thread; the first
        answer wins. No follower (e.g. the only one disconnected), a client that disconnects or
        answers an error: decline. Never another client: it could approve a tool on a thread it
        does not follow."""
        from rootstep.app_server.server import followers
        from rootstep.mcp.elicitation import DECLINE, parse_response

        connections = followers(self.server.connections, params.thread_id)
        if not connections:
            log.info("no client follows thread %s: %s declined", params.thread_id, params.METHOD)
            return DECLINE
        answer: list[ElicitationResponse] = []

        async def ask(connection: Any, scope: anyio.CancelScope) -> None:
            try:
                raw = await connection.request(params.METHOD, params)
            except Exception as exc:  # noqa: BLE001 - closed connection / error answer
                log.info("elicitation request to %s failed: %s", connection.name, exc)
                return
            if not answer:
                answer.append(parse_response(raw))
                scope.cancel()

        async with anyio.create_task_group() as group:
            for connection in connections:
                group.start_soon(ask, connection, group.cancel_scope)
        return answer[0] if answer else DECLINE

    def policy_for(self, thread_id: str, config: Any) -> Callable[[], tuple[Any, str | None]]:
        """The thread's current (approval policy, sandbox mode), read at each call; the thread's
        config until the thread is loaded."""
        manager = self.server.manager
        default = (getattr(config, "approval_policy", None), getattr(config, "sandbox_mode", None))

        def policy() -> tuple[Any, str | None]:
            thread = manager.threads.get(thread_id)
            if thread is None:
                return default
            return thread.settings.approval_policy, thread.settings.sandbox_mode

        return policy

    def router_for(self, thread_id: str) -> ElicitationRouter:
        """The thread's way to ask the client (approvals, servers' elicitations)."""
        from rootstep.mcp.elicitation import ElicitationRouter

        manager = self.server.manager

        def turn_id() -> str | None:
            thread = manager.threads.get(thread_id)
            active = getattr(thread, "active", None)
            return active.turn.id if active is not None else None

        return ElicitationRouter(thread_id, self.ask_client, turn_id)

    def _auth(self, name: str, transport: Any) -> Any:
        if self.auth_lookup is not None:
            return self.auth_lookup(name, transport)
        return self.tokens.auth_lookup(name, transport)

    def provider_factory(self, context: ThreadToolsContext) -> McpToolsProvider:
        """Each thread's tools: the config.toml servers (with its own config overrides)."""
        extra = context.extra if isinstance(context.extra, dict) else {}
        config = extra.get("config")
        servers = parse_mcp_servers(config.raw) if config is not None else self.servers
        thread_id = context.thread_id
        policy = self.policy_for(thread_id, config)

        from rootstep.mcp.step_tools import McpToolsProvider

        router = self.router_for(thread_id)
        return McpToolsProvider(
            thread_id, servers, transports=self.transports(context.cwd, router), emit=self.server.emit, policy=policy,
            elicitation=router,
        )

    def reload(self) -> McpServersConfig:
        """Re-read config.toml (+ the server's ``-c`` overrides)."""
        from rootstep.config.config import load_config

        config = load_config(self.server.config.home, self.server.overrides)
        self.servers = parse_mcp_servers(config.raw)
        return self.servers


def _service(ctx: RequestContext) -> McpService:
    return ctx.server.services["mcp"]


def _thread(ctx: RequestContext, thread_id: str) -> Any:
    try:
        return ctx.server.manager.loaded(thread_id)
    except ThreadError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None


def _mcp_tools(thread: Any) -> Any:
    tools = thread.tools
    return tools if hasattr(tools, "current_runtime") and hasattr(tools, "servers") else None


async def list_status(ctx: RequestContext, params: ListMcpServerStatusParams) -> Any:
    from rootstep.mcp.status import McpRequestError, list_server_status

    service = _service(ctx)
    servers, runtime, cwd, provenance = service.servers, None, None, None
    if params.thread_id is not None:
        thread = _thread(ctx, params.thread_id)
        cwd = thread.settings.cwd
        tools = _mcp_tools(thread)
        if tools is not None:
            servers, runtime = tools.servers, tools.runtime
            view = getattr(tools, "status_view", None)  # selected roots: the thread's projection now
            if view is not None:
                servers, runtime, provenance = await view()
    try:
        return await list_server_status(
            servers, params, transports=service.transports(cwd), runtime=runtime, auth_status=service.auth_status,
            provenance=provenance,
        )
    except McpRequestError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None


async def call_tool(ctx: RequestContext, params: McpServerToolCallParams) -> Any:
    thread = _thread(ctx, params.thread_id)
    tools = _mcp_tools(thread)
    if tools is None:
        raise JsonRpcError(INTERNAL_ERROR, f"unknown MCP server '{params.server}'")
    from rootstep.mcp.status import McpRequestError, call_server_tool

    runtime = await tools.current_runtime()
    try:
        return await call_server_tool(runtime, params)
    except McpRequestError as exc:
        raise JsonRpcError(INTERNAL_ERROR, str(exc)) from None
    finally:
        await runtime.release()


async def read_resource(ctx: RequestContext, params: McpResourceReadParams) -> Any:
    """With ``threadId``: the thread's current servers; without: the latest config.toml ones."""
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
        tools = _mcp_tools(_thread(ctx, params.thread_id))
        if tools is None:
            raise unknown_server(params.server)
        runtime = await tools.current_runtime()
        try:
            return await read_thread_resource(runtime, params.server, params.uri, meta=params.meta)
        finally:
            await runtime.release()
    except ResourceReadError as exc:
        raise JsonRpcError(exc.code, exc.message, exc.data) from None


async def reload_servers(ctx: RequestContext, params: Any) -> EmptyResponse:
    service = _service(ctx)
    try:
        servers = service.reload()
    except Exception as exc:  # noqa: BLE001 - a broken config.toml is the request's error
        raise JsonRpcError(INTERNAL_ERROR, f"failed to refresh MCP servers: {exc}") from None
    for thread in list(ctx.server.manager.threads.values()):
        refresh = getattr(thread.tools, "request_refresh", None)
        if refresh is not None:
            refresh(servers)
    return EmptyResponse()


def tools_factory(server: AppServer) -> Any:
    """The ``rootstep.app_server.tools`` hook: threads get their config.toml MCP servers."""
    service = server.services.get("mcp")
    if not isinstance(service, McpService):
        service = server.services["mcp"] = McpService(server)
    return service.provider_factory


def register(server: AppServer) -> None:
    service = McpService(server)
    server.services["mcp"] = service
    if server.manager.tools_factory is empty_provider_factory:
        server.manager.tools_factory = service.provider_factory
    # ``install_tools`` picks the factory after construction; offer ours unless another layer
    # (e.g. selected plugins, which wraps this provider) has set its own.
    from rootstep.app_server import tools

    if tools.TOOLS_FACTORY_HOOK is None and tools.TOOLS_FACTORY_PATH is None:
        tools.TOOLS_FACTORY_HOOK = tools_factory
    table = server.methods
    table.add("mcpServerStatus/list", list_status, ListMcpServerStatusParams)
    table.add("mcpServer/tool/call", call_tool, McpServerToolCallParams)
    table.add("mcpServer/resource/read", read_resource, McpResourceReadParams)
    table.add("config/mcpServer/reload", reload_servers, None)
