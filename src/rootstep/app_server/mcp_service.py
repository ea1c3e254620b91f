"""The app-server's MCP service: the latest config.toml servers, each loaded thread's
:class:`~rootstep.extensions.thread_mcp.ThreadMcp`, OAuth tokens, and how a thread's servers
reach their transports and the client.

Direct requests with a ``threadId`` (status list, tool call, resource read, OAuth login) find the
thread's MCP here (:meth:`McpService.for_thread`); a thread without roots is simply the
projection of none.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from rootstep import preload
from rootstep.app_server.connection import OVERLOADED_MESSAGE
from rootstep.config.config import Config, ConfigError, load_config
from rootstep.config.mcp_servers import McpServersConfig
from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements, RequirementsError, load_requirements
from rootstep.extensions.connectors import HostedApps
from rootstep.extensions.thread_mcp import McpWiring, ThreadMcp, stored_tool_names
from rootstep.jsonrpc import OVERLOADED, JsonRpcError
from rootstep.tools import ThreadToolsContext, ThreadView

if TYPE_CHECKING:
    from rootstep.app_server.background import Background
    from rootstep.app_server.clients import Clients
    from rootstep.app_server.environments_service import EnvironmentsService
    from rootstep.mcp.elicitation import ElicitationRequestParams, ElicitationResponse, ElicitationRouter
    from rootstep.mcp.shared_servers import SharedServers
    from rootstep.mcp.status import AuthStatusFn
    from rootstep.mcp.transports.factory import AuthLookup, DefaultTransports

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
    """Server-wide MCP state; one per app-server."""

    def __init__(
        self,
        config: Config,
        *,
        overrides: tuple[str, ...] = (),
        clients: Clients,
        environments: EnvironmentsService,
        shared: SharedServers,
        background: Background,
    ) -> None:
        self.config = config
        self.overrides = overrides
        self.servers: McpServersConfig = config.mcp_servers
        self.clients = clients
        self.environments = environments
        self.shared = shared
        self.background = background
        self.threads: dict[str, ThreadMcp] = {}
        self.temporary_servers = TemporaryServerSlots.from_environment()
        # HTTP servers are authorized with stored OAuth tokens (:attr:`tokens`) unless a test or
        # an embedding sets these.
        self.auth_lookup: AuthLookup | None = None
        self.auth_status: AuthStatusFn = self._oauth_status
        self._tokens: Any = None
        self._start_slots: Any = None  # StartSlots, built with the first transports

    # --- threads --------------------------------------------------------------------------

    def thread_mcp(self, context: ThreadToolsContext) -> ThreadMcp:
        """A new thread's MCP (registered for its direct requests until it closes)."""
        thread, config = context.thread, context.config
        servers = config.mcp_servers if config is not self.config else self.servers
        hosted = HostedApps.from_config(config)
        mcp = ThreadMcp(
            thread,
            self._wiring(),
            config_servers=servers,
            step_environments=self.environments.for_thread(
                thread, wait=not config.features.enabled("deferred_executor")
            ),
            roots=context.selected_roots,
            overlays=hosted.overlays,
            catalog_hook=hosted.catalog_hook,
            tool_names=stored_tool_names(context.stored, thread.id),
            discovery=config.features.enabled("executor_capability_discovery"),
            on_close=lambda: self.threads.pop(thread.id, None),
        )
        self.threads[thread.id] = mcp
        return mcp

    def for_thread(self, thread_id: str) -> ThreadMcp | None:
        return self.threads.get(thread_id)

    def _wiring(self) -> McpWiring:
        return McpWiring(
            environments=self.environments.get,
            transports=self.transports,
            router=self.router,
            emit=self.clients.emit,
            generation=self.environments.generation,
            shared=self.shared,
            owner=self.background,
            requirements=self._requirements(),
        )

    @staticmethod
    def _requirements() -> Requirements:
        try:
            return load_requirements()
        except (RequirementsError, OSError) as exc:
            log.error("requirements.toml ignored: %s", exc)
            return EMPTY_REQUIREMENTS

    # --- transports and the client ----------------------------------------------------------

    def transports(self, cwd: str | None, elicitation: ElicitationRouter | None = None) -> DefaultTransports:
        preload.wait()
        from rootstep.mcp.transports.factory import DefaultTransports

        if self._start_slots is None:
            from rootstep.mcp.start_slots import StartSlots

            self._start_slots = StartSlots()
        return DefaultTransports(environments=self.environments.get, default_cwd=cwd, auth=self._auth,
                                 elicitation=elicitation, start_slots=self._start_slots)

    def router(self, thread: ThreadView) -> ElicitationRouter:
        """The thread's way to ask the client (approvals, servers' elicitations)."""
        preload.wait()
        from rootstep.mcp.elicitation import ElicitationRouter

        return ElicitationRouter(thread.id, self.ask_client, lambda: thread.active_turn_id)

    async def ask_client(self, params: ElicitationRequestParams) -> ElicitationResponse:
        """``mcpServer/elicitation/request`` to the thread's clients; no answer declines."""
        from rootstep.mcp.elicitation import DECLINE, parse_response

        raw = await self.clients.ask(params.thread_id, params.METHOD, params)
        return DECLINE if raw is None else parse_response(raw)

    # --- OAuth ------------------------------------------------------------------------------

    @property
    def tokens(self) -> Any:
        """The process-wide ``TokenManager`` (created on first use: it may probe a keyring)."""
        if self._tokens is None:
            preload.wait()
            from rootstep.mcp.oauth import TokenManager

            self._tokens = TokenManager.from_settings(self.config.oauth)
        return self._tokens

    def _auth(self, name: str, transport: Any) -> Any:
        if self.auth_lookup is not None:
            return self.auth_lookup(name, transport)
        return self.tokens.auth_lookup(name, transport)

    async def _oauth_status(self, name: str, config: Any) -> str:
        """Bearer, stored OAuth tokens, or OAuth discovery decide it."""
        await preload.ready()
        if not config.enabled or config.is_stdio:
            from rootstep.mcp.status import default_auth_status

            return await default_auth_status(name, config)
        import httpx2

        from rootstep.mcp.oauth import auth_status

        async with httpx2.AsyncClient(timeout=httpx2.Timeout(10.0), trust_env=True) as client:
            return await auth_status(name, config, store=self.tokens.store, http_client=client)

    def after_login(self, name: str) -> None:
        """A login for ``name`` succeeded: every thread connects it again with the new tokens."""
        for mcp in list(self.threads.values()):
            mcp.after_login(name)

    # --- reload -----------------------------------------------------------------------------

    def reload(self) -> McpServersConfig:
        """Re-read config.toml (+ the server's ``-c`` overrides); every loaded thread uses the new
        servers from its next step. Raises ``ConfigError`` / ``OverrideError``."""
        self.servers = load_config(self.config.home, list(self.overrides)).mcp_servers
        for mcp in list(self.threads.values()):
            mcp.request_refresh(self.servers)
        return self.servers

    async def aclose(self) -> None:
        await self.shared.aclose()


__all__ = ["ConfigError", "McpService"]
