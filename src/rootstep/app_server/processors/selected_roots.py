"""Threads get :class:`SelectedRootsToolsProvider`: config.toml servers plus, step by step, the
MCP servers, connectors and skills of the capability roots they selected.

This module only wires: it builds each thread's provider from the server's services (``mcp``
for transports and the latest config servers, ``environments`` for readiness), the managed
``requirements.toml``, the hosted apps overlay, and the tool-name map persisted in the thread's
rollout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rootstep.core.rollout import find_rollout, iter_records
from rootstep.tools import ThreadToolsContext
from rootstep.config.mcp_servers import parse_mcp_servers

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer
    from rootstep.extensions.selected_plugins.root import SelectedCapabilityRoot
    from rootstep.extensions.selected_plugins.runtime_provider import SelectedRootsToolsProvider
    from rootstep.extensions.selected_plugins.tool_names import StableToolNames

# The selected_plugins package imports the mcp SDK: its modules are imported at first use so
# that registering this processor (and a plain thread/start) stays cheap.

log = logging.getLogger(__name__)


def roots_of(raw: Any) -> list[SelectedCapabilityRoot]:
    """Stored wire roots → values; an unreadable one is logged and skipped."""
    from rootstep.extensions.selected_plugins.root import InvalidRootError, SelectedCapabilityRoot

    out = []
    for entry in raw or ():
        try:
            out.append(SelectedCapabilityRoot.from_wire(entry))
        except InvalidRootError as exc:
            log.warning("ignoring selected capability root: %s", exc)
    return out


def stored_tool_names(server: AppServer, thread_id: str) -> StableToolNames | None:
    """The last tool-name map persisted in the thread's rollout (resume), if any."""
    from rootstep.extensions.selected_plugins.runtime_provider import TOOL_NAMES_RECORD
    from rootstep.extensions.selected_plugins.tool_names import StableToolNames

    path = find_rollout(thread_id, server.config.sessions_dir)
    if path is None or not path.exists():
        return None
    found = None
    try:
        for record in iter_records(path):
            if record.get("type") == TOOL_NAMES_RECORD:
                found = record.get("payload", {}).get("names")
    except OSError:
        return None
    if found is None:
        return None
    try:
        return StableToolNames.from_json(found)
    except ValueError as exc:
        log.warning("thread %s: ignoring stored tool names: %s", thread_id, exc)
        return None


class ThreadEnvironments:
    """A thread's ``StepEnvironments``: its current selection (``turn/start.environments``
    replaces it) over the server's environments. Steps wait for the selected environments
    unless ``[features] deferred_executor`` is on."""

    def __init__(self, server: AppServer, thread_id: str, initial: Sequence[str], *, wait: bool) -> None:
        self._server, self._thread_id, self._initial, self._wait = server, thread_id, tuple(initial), wait

    def _service(self) -> Any:
        return self._server.services.get("environments")

    def selected(self) -> Sequence[str]:
        thread = self._server.manager.threads.get(self._thread_id)
        if thread is None or thread.environments is None:
            return self._initial
        return [e.environment_id for e in thread.environments]

    def start(self, env_ids: Iterable[str]) -> None:
        service = self._service()
        if service is not None:
            service.start_in_background(env_id for env_id in env_ids if env_id in service)

    async def capture(self, env_ids: Sequence[str]) -> frozenset[str]:
        service = self._service()
        if service is None:
            return frozenset(e for e in env_ids if e == "local")
        return await service.capture([e for e in env_ids if e in service], wait=self._wait)


def initial_selection(environments: Any, service: Any) -> list[str]:
    """The thread's selection when it was built; a thread that stored none (forks, older
    rollouts) gets the default selection."""
    if environments is not None:
        return [e.environment_id for e in environments]
    if service is None:
        return ["local"]
    return service.manager.default_environment_ids()


def _feature(config: Any, name: str) -> bool:
    features = (getattr(config, "raw", None) or {}).get("features")
    return isinstance(features, dict) and features.get(name) is True


def provider_factory(server: AppServer) -> Any:
    """The ``rootstep.app_server.tools`` hook: ``(ThreadToolsContext) -> provider``."""
    from rootstep.app_server.lazy_tools import LazyToolsProvider
    from rootstep.app_server.processors.mcp import McpService
    from rootstep.config.requirements import RequirementsError, load_requirements

    service = server.services.get("mcp")
    if not isinstance(service, McpService):
        service = server.services["mcp"] = McpService(server)
    mcp_service: McpService = service
    environments = server.services.get("environments")

    def environment(env_id: str) -> Any:
        return environments.get(env_id) if environments is not None else None

    def generation(env_id: str) -> int:
        return environments.generation(env_id) if environments is not None else 0

    def factory(context: ThreadToolsContext) -> SelectedRootsToolsProvider | LazyToolsProvider:
        extra = context.extra if isinstance(context.extra, dict) else {}
        config = extra.get("config") or server.config
        servers = parse_mcp_servers(config.raw) if extra.get("config") is not None else mcp_service.servers
        if not context.selected_capability_roots and not servers.servers and not servers.errors \
                and not _feature(config, "apps"):
            # Nothing to start with the thread: build (and import the mcp SDK) on first use.
            return LazyToolsProvider(lambda: build(context, config, servers))
        return build(context, config, servers)

    def build(context: ThreadToolsContext, config: Any, servers: Any) -> SelectedRootsToolsProvider:
        extra = context.extra if isinstance(context.extra, dict) else {}
        from rootstep.extensions import connectors
        from rootstep.mcp import shared_servers
        from rootstep.extensions.selected_plugins.runtime_provider import TOOL_NAMES_RECORD, SelectedRootsToolsProvider

        hosted = connectors.HostedApps.from_config(config)

        try:
            requirements = load_requirements()
        except (RequirementsError, OSError) as exc:
            log.error("requirements.toml ignored: %s", exc)
            from rootstep.config.requirements import EMPTY_REQUIREMENTS as requirements  # noqa: N811
        manager, thread_id = server.manager, context.thread_id
        policy = mcp_service.policy_for(thread_id, config)

        def persist(names: list[list[str]]) -> None:
            thread = manager.threads.get(thread_id)
            if thread is not None:
                thread.record(TOOL_NAMES_RECORD, {"names": names})

        return SelectedRootsToolsProvider(
            thread_id,
            roots=roots_of(context.selected_capability_roots),
            config_servers=servers,
            transports=mcp_service.transports(context.cwd, mcp_service.router_for(thread_id)),
            environments=environment,
            step_environments=ThreadEnvironments(
                server, thread_id, initial_selection(extra.get("environments"), environments),
                wait=not _feature(config, "deferred_executor"),
            ),
            generation=generation,
            emit=server.emit,
            policy=policy,
            requirements=requirements,
            overlays=hosted.overlays,
            catalog_hook=hosted.catalog_hook,
            tool_names=stored_tool_names(server, thread_id),
            persist_names=persist,
            discovery=_feature(config, "executor_capability_discovery"),
            shared=shared_servers.of_services(server.services),
        )

    return factory


def register(server: AppServer) -> None:
    """Selected roots serve every thread (a thread without roots sees config.toml servers only)."""
    from rootstep.app_server import tools
    from rootstep.app_server.processors import mcp
    from rootstep.tools import empty_provider_factory

    factory = provider_factory(server)
    service = server.services.get("mcp")
    current = server.manager.tools_factory
    if current == getattr(service, "provider_factory", None) or current is empty_provider_factory:
        server.manager.tools_factory = factory
    if tools.TOOLS_FACTORY_HOOK in (None, mcp.tools_factory):
        tools.TOOLS_FACTORY_HOOK = provider_factory
