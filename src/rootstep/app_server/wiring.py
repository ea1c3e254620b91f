"""The composition root: the one place that builds the app-server's services, decides which
tools a thread gets, and registers the request processors.

Read :func:`build_app_server` top to bottom to see the whole server: the background task group,
the clients, the environments, MCP (shared servers, each thread's :class:`ThreadMcp`), the
thread manager with its tools factory, then the processors, from a literal list.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rootstep.app_server.agent_tools_service import AgentToolsService
from rootstep.app_server.background import Background
from rootstep.app_server.clients import Clients
from rootstep.app_server.environments_service import EnvironmentsService
from rootstep.app_server.mcp_service import McpService
from rootstep.app_server.methods import MethodTable
from rootstep.app_server.processors import (
    account,
    catalog,
    catalog_lists,
    commands,
    config_rpc,
    environments,
    goals,
    history,
    mcp,
    mcp_oauth,
    models,
    review,
    thread_settings,
    threads,
    turns,
)
from rootstep.app_server.server import AppServer
from rootstep.auth import AuthStore
from rootstep.config.config import Config
from rootstep.core.manager import ThreadManager
from rootstep.mcp.shared_servers import SharedServers
from rootstep.tools import ThreadTools, ThreadToolsContext, ToolSource

log = logging.getLogger(__name__)

# Every request processor, in registration order (a later one may not redefine a method).
PROCESSORS = (
    threads, turns, history, models, mcp, mcp_oauth, environments, catalog, commands,
    account, config_rpc, catalog_lists, goals, thread_settings, review,
)

# An extra tool source for every thread, for embedding and tests: ``module:function``, where
# ``function(config)`` returns ``(ThreadToolsContext) -> ToolSource``.
EXTRA_TOOLS_ENV = "ROOTSTEP_TOOLS_FACTORY"

ExtraTools = Callable[[ThreadToolsContext], ToolSource]


@dataclass(frozen=True)
class AppServices:
    """The app-server's long-lived parts (one each per process)."""

    config: Config
    overrides: tuple[str, ...]
    background: Background
    clients: Clients
    environments: EnvironmentsService
    shared_servers: SharedServers
    mcp: McpService
    threads: ThreadManager
    agent_tools: AgentToolsService
    auth: AuthStore

    async def aclose(self) -> None:
        """After every thread is unloaded: shared MCP servers, then the executors."""
        await self.mcp.aclose()
        await self.environments.aclose()


@dataclass(frozen=True)
class ToolsFactory:
    """Which tools a thread gets: the agent's own (first, as 0.169 orders its request's tools),
    any extra source, then its MCP servers."""

    mcp: McpService
    agent: AgentToolsService
    extra: ExtraTools | None = None

    def __call__(self, context: ThreadToolsContext) -> ThreadTools:
        sources: list[ToolSource] = [self.agent.thread_tools(context)]
        if self.extra is not None:
            sources.append(self.extra(context))
        sources.append(self.mcp.thread_mcp(context))
        return ThreadTools(sources)


def extra_tools_from_env(config: Config) -> ExtraTools | None:
    """The source named by ``ROOTSTEP_TOOLS_FACTORY``, if set; a broken name fails start-up."""
    path = os.environ.get(EXTRA_TOOLS_ENV)
    if not path:
        return None
    module, _, name = path.partition(":")
    factory = getattr(importlib.import_module(module), name)
    extra: ExtraTools = factory(config)
    return extra


def build_app_server(config: Config, *, overrides: Sequence[str] = ()) -> AppServer:
    """The server and everything it owns (call inside the event loop that will run it)."""
    background = Background()
    clients = Clients()
    environments_service = EnvironmentsService(config, background)
    shared = SharedServers(owner=background)
    mcp_service = McpService(
        config, overrides=tuple(overrides), clients=clients, environments=environments_service, shared=shared,
        background=background,
    )
    agent_tools = AgentToolsService(clients=clients, environments=environments_service, background=background)
    tools = ToolsFactory(mcp_service, agent_tools, extra_tools_from_env(config))
    auth = AuthStore(config.home)
    thread_manager = ThreadManager(
        config, emit=clients.emit, tools_factory=tools, environments=environments_service, credentials=auth.current,
    )
    services = AppServices(
        config=config, overrides=tuple(overrides), background=background, clients=clients,
        environments=environments_service, shared_servers=shared, mcp=mcp_service, threads=thread_manager,
        agent_tools=agent_tools, auth=auth,
    )
    table = MethodTable()
    for processor in PROCESSORS:
        processor.register(table, services)
    return AppServer(services, table)
