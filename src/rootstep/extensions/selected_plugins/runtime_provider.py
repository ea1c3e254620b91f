"""A thread's tools when it selected capability roots: the per-step MCP runtime (spec §5.7–5.9).

At every model step (and every thread-scoped direct request) :class:`SelectedRootsToolsProvider`

1. takes the thread's candidate roots in the environments the thread selected, waits for those
   environments to finish starting (bounded by their timeouts; not with the
   ``deferred_executor`` feature, where one still starting is ready at a later step) and keeps
   the roots whose environment is up;
2. same ready-root key as the published runtime → reuses it as is (no projection at all);
3. otherwise asks :meth:`SelectedPluginsThread.step` (projection → requirements → merge with
   the ``config.toml`` servers by the precedence table): KEEP_MANAGER publishes the new key with
   the same runtime; REBUILD publishes a new runtime whose servers come from the thread's
   :class:`ServerPool`, so unchanged servers keep their client and process and only added or
   changed ones start;
4. the step keeps the snapshot it captured; a replaced runtime closes when its last user ends.

Model-visible tool names are allocated by the thread's :class:`StableToolNames` (persisted in
the rollout as ``selected_roots_tool_names``) so a name never moves within a thread or across
resume. The step's tools also carry the skills / plugin guidance of the ready roots
(:mod:`rootstep.extensions.skills`) through ``prepare_input``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import anyio

from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.tools import FunctionCall, ItemSink
from rootstep.extensions import skills as skills_ext
from rootstep.extensions.selected_plugins.cache import EnvironmentLookup
from rootstep.extensions.selected_plugins.projection import McpProjection, Overlay
from rootstep.extensions.selected_plugins.reuse import RuntimeDecision, same_ready_roots
from rootstep.extensions.selected_plugins.root import (
    SelectedCapabilityRoot,
    StepEnvironments,
    dedupe_candidates,
    ready_roots,
    selected_candidates,
)
from rootstep.extensions.selected_plugins.server_pool import ServerPool
from rootstep.mcp.shared_servers import SharedServers
from rootstep.extensions.selected_plugins.thread_state import SelectedPluginsThread
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.config.mcp_servers import McpServersConfig
from rootstep.mcp.connection import ServerGone, StartupStatus, startup_failure_text
from rootstep.mcp.runtime import McpRuntime, ServerProvenance, ToolCatalog
from rootstep.mcp.step_tools import Emit, McpStepTools, PolicyLookup, check_required_servers, required_servers
from rootstep.mcp.tools import ToolInfo
from rootstep.mcp.transports.factory import TransportFactory
from rootstep.mcp.wire import McpServerStartupStatusUpdated
from rootstep.plugins.discovery import PluginPackage
from rootstep.protocol.items import McpAppContext, McpToolCallItem

log = logging.getLogger(__name__)

TOOL_NAMES_RECORD = "selected_roots_tool_names"

CatalogHook = Callable[[ToolCatalog, McpProjection], ToolCatalog]


def tool_identity(info: ToolInfo) -> str:
    """What a stable name belongs to: the plugin, the server and the raw tool (and connector)."""
    return "\0".join((info.plugin_id or "", info.server, info.connector_id or "", info.tool.name))


def provenance_of(projection: McpProjection) -> dict[str, ServerProvenance]:
    """Server → owning plugin (spec §6.6) for the plugin-owned winners of the catalog."""
    return {
        name: ServerProvenance(plugin_id=pid or None, display_names=(display,) if display else ())
        for name, (pid, display) in projection.catalog.plugin_attributions_by_server_name().items()
    }


def stable_catalog(catalog: ToolCatalog, names: StableToolNames) -> ToolCatalog:
    """The step's catalog with each tool renamed to its thread-stable name."""
    preferred = {tool_identity(info): info.model_name for info in catalog.tools}
    assigned = names.assign(preferred)
    infos = []
    for info in catalog.tools:
        namespace, name = assigned[tool_identity(info)]
        if (namespace, name) != info.model_name:
            info = replace(info, callable_namespace=namespace, callable_name=name)
        infos.append(info)
    return ToolCatalog(tools=tuple(infos), _index={i.model_name: i for i in infos})


class SelectedRootsStepTools(McpStepTools):
    """One step's tools (implements ``StepTools``) plus the ready roots' model context."""

    def __init__(self, *args: Any, context: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._context = context

    def prepare_input(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items to add to the history before this step's request (skills, plugin guidance)."""
        return self._context(history)

    async def execute(self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str) -> Any:
        info = self.catalog.route(call.namespace, call.name)
        if info is not None and info.connector_id:
            meta = info.tool.meta or {}
            context = McpAppContext(
                connector_id=info.connector_id,
                app_name=meta.get("connector_name") if isinstance(meta.get("connector_name"), str) else None,
                action_name=info.tool.name,
            )
            sink = _AppContextSink(sink, context)
        return await super().execute(call, sink, thread_id=thread_id, turn_id=turn_id)


class _AppContextSink:
    """Adds ``appContext`` to the mcpToolCall items of a connector tool (spec §6.6)."""

    def __init__(self, inner: ItemSink, context: McpAppContext) -> None:
        self._inner, self._context = inner, context

    def _with_context(self, item: Any) -> Any:
        if isinstance(item, McpToolCallItem):
            return item.model_copy(update={"app_context": self._context})
        return item

    async def started(self, item: Any) -> None:
        await self._inner.started(self._with_context(item))

    async def completed(self, item: Any) -> None:
        await self._inner.completed(self._with_context(item))


class SelectedRootsToolsProvider:
    """A thread's ``StepToolsProvider`` over config.toml servers and its selected roots.

    Also serves the duck-typed surface of the MCP processor (``servers``, ``runtime``,
    ``current_runtime``, ``request_refresh``, ``status_view``).
    """

    def __init__(
        self,
        thread_id: str,
        *,
        roots: Sequence[SelectedCapabilityRoot],
        config_servers: McpServersConfig,
        transports: TransportFactory,
        environments: EnvironmentLookup,
        step_environments: StepEnvironments,
        generation: Callable[[str], int] = lambda env_id: 0,
        emit: Emit | None = None,
        policy: PolicyLookup | None = None,
        requirements: Requirements = EMPTY_REQUIREMENTS,
        overlays: Callable[[], Sequence[Overlay]] = lambda: (),
        catalog_hook: CatalogHook | None = None,
        tool_names: StableToolNames | None = None,
        persist_names: Callable[[list[list[str]]], None] | None = None,
        discovery: bool = False,
        shared: SharedServers | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.state = SelectedPluginsThread(roots, discovery=discovery, tool_names=tool_names)
        self._requirements = requirements
        self._config = self._gated(config_servers)
        self._environments = environments
        self._step_environments = step_environments
        self._emit = emit
        self._policy = policy
        self._overlays = overlays
        self._catalog_hook = catalog_hook
        self._persist_names = persist_names
        self.pool = ServerPool(transports, on_status=self._on_status, generation=generation, shared=shared)
        self._runtime: McpRuntime | None = None
        self._projection = McpProjection(self.state.published.projection.catalog)
        self._packages: tuple[PluginPackage, ...] = ()
        self._force = False
        self._lock = anyio.Lock()
        self._closed = False
        self._scanned: int | None = None
        self.decisions: list[RuntimeDecision] = []  # observability (tests, bench)
        # The roots' executors start now, in the background: thread/start answers at once and
        # the first step waits only for what is left of their start-up.
        step_environments.start(dict.fromkeys(r.environment_id for r in self.candidate_roots()))

    # --- inputs ---------------------------------------------------------------------------

    def _gated(self, servers: McpServersConfig) -> McpServersConfig:
        return McpServersConfig(self._requirements.apply_to_config_servers(servers.servers), dict(servers.errors))

    def candidate_roots(self) -> list[SelectedCapabilityRoot]:
        """The thread's roots in the environments it selected (first occurrence of an id)."""
        return selected_candidates(dedupe_candidates(list(self.state.roots)), self._step_environments.selected())

    async def ready_roots(self) -> list[SelectedCapabilityRoot]:
        """This step's ready roots: the candidates whose environment this step captured."""
        candidates = self.candidate_roots()
        if not candidates:
            return []
        captured = await self._step_environments.capture(list(dict.fromkeys(r.environment_id for r in candidates)))
        return ready_roots(candidates, captured.__contains__)

    async def _on_status(self, status: StartupStatus) -> None:
        if self._emit is not None:
            await self._emit(
                McpServerStartupStatusUpdated(
                    thread_id=self.thread_id, name=status.name, status=status.status, error=status.error,
                    failure_reason=status.failure_reason,
                )
            )

    # --- duck-typed MCP provider surface --------------------------------------------------

    @property
    def servers(self) -> McpServersConfig:
        """The servers of the published runtime (config.toml servers before the first step)."""
        if self._runtime is None:
            return self._config
        return McpServersConfig(dict(self._runtime.servers), dict(self._config.errors))

    @property
    def runtime(self) -> McpRuntime | None:
        return self._runtime

    @property
    def provenance(self) -> Mapping[str, ServerProvenance]:
        return provenance_of(self._projection)

    def request_refresh(self, servers: McpServersConfig, provenance: Any = None) -> None:
        """``config/mcpServer/reload``: the new config.toml servers from the next step on."""
        gated = self._gated(servers)
        if gated != self._config:
            self._config = gated
            self._force = True

    def retry_failed(self, name: str) -> None:
        """After a login: the next step starts ``name`` again if it had failed."""
        if self.pool.forget_failed(name):
            self._force = True

    def restart_after_login(self, name: str) -> None:
        """After a successful login: the next step connects ``name`` again with the new tokens."""
        if self.pool.forget(name):
            self._force = True

    async def status_view(self) -> tuple[McpServersConfig, McpRuntime | None, Mapping[str, ServerProvenance]]:
        """Spec §5.9: the projection for the roots ready now, with the latest config, without
        publishing anything."""
        projection = await self.state.preview(
            await self.ready_roots(),
            self._environments,
            config_servers=self._config.servers,
            overlays=self._overlays(),
            requirements=self._requirements,
        )
        servers = McpServersConfig(projection.catalog.configured_servers(), dict(self._config.errors))
        return servers, self._runtime, provenance_of(projection)

    # --- publication ----------------------------------------------------------------------

    async def _publish(self, ready: Sequence[SelectedCapabilityRoot], projection: McpProjection) -> None:
        servers = projection.catalog.configured_servers()
        manager = await self.pool.build(servers)
        runtime = McpRuntime(servers, manager, provenance=provenance_of(projection), config_errors=self._config.errors)  # type: ignore[arg-type]
        old, self._runtime = self._runtime, runtime
        self._projection = projection
        await self._refresh_packages(ready)
        if old is not None:
            await old.retire()
        elif self._config.errors:
            # Like a freshly started runtime: invalid config.toml servers report as failed.
            for name, reason in sorted(self._config.errors.items()):
                await self._on_status(StartupStatus(name, "starting"))
                await self._on_status(StartupStatus(name, "failed", startup_failure_text(name, reason)))

    async def _refresh_packages(self, ready: Sequence[SelectedCapabilityRoot]) -> None:
        pairs = await self.state.cache.metadata_for_roots(ready, self._environments)
        self._packages = tuple(p for _r, p in pairs if p is not None)

    async def _resolve(self) -> None:
        """Spec §5.7 for one capture; leaves the runtime to use in ``self._runtime``."""
        ready = await self.ready_roots()
        if self._runtime is not None and not self._force and same_ready_roots(self.state.published.ready_roots, ready):
            self.decisions.append(RuntimeDecision.REUSE)
            return
        async with self._lock:
            if self._runtime is None or self._force:
                # The initial runtime (spec §2.1: built with the thread's published key) or a
                # config reload: project for the roots of the published key.
                self._force = False
                key = self.state.published.ready_roots
                projection = await self.state.preview(
                    key, self._environments, config_servers=self._config.servers,
                    overlays=self._overlays(), requirements=self._requirements,
                )
                self.decisions.append(RuntimeDecision.REBUILD)
                await self._publish(key, projection)
                if same_ready_roots(key, ready):
                    return
            outcome = await self.state.step(
                ready, self._environments, config_servers=self._config.servers,
                overlays=self._overlays(), requirements=self._requirements,
            )
            self.decisions.append(outcome.decision)
            if outcome.decision is RuntimeDecision.REUSE:
                return
            if outcome.decision is RuntimeDecision.KEEP_MANAGER:
                self._projection = replace(self._projection, plugins_available=outcome.inputs.projection.plugins_available)
                await self._refresh_packages(ready)
                return
            await self._publish(ready, outcome.inputs.projection)

    async def current_runtime(self) -> McpRuntime:
        """The runtime a step starting now captures, acquired (``release()`` it)."""
        if self._closed:
            raise ServerGone("the thread's MCP runtime is closed")
        await self._resolve()
        assert self._runtime is not None
        return self._runtime.acquire()

    async def prestart(self) -> None:
        """Thread start: config.toml servers start now; selected roots only at the first step."""
        if self._closed or self._runtime is not None:
            return
        if not self._config.servers:
            return
        async with self._lock:
            if self._runtime is None:
                projection = await self.state.preview(
                    (), self._environments, config_servers=self._config.servers,
                    overlays=self._overlays(), requirements=self._requirements,
                )
                await self._publish((), projection)

    async def validate_required_servers(self) -> None:
        required = required_servers(self._config)
        if not required:
            return
        await self.prestart()
        await check_required_servers(await self.current_runtime(), required)

    # --- steps ----------------------------------------------------------------------------

    def _context(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._scanned is None or self._scanned > len(history):
            start = len(history)
            while start > 0 and history[start - 1].get("role") == "user":
                start -= 1
        else:
            start = self._scanned
        items = skills_ext.context_items(
            self._packages, self._projection.plugins_available, history, history[start:]
        )
        self._scanned = len(history) + len(items)
        return items

    async def capture_step(self) -> SelectedRootsStepTools:
        runtime = await self.current_runtime()
        try:
            catalog = await runtime.catalog()
            if self._catalog_hook is not None:
                catalog = self._catalog_hook(catalog, self._projection)
            before = len(self.state.tool_names)
            catalog = stable_catalog(catalog, self.state.tool_names)
            if len(self.state.tool_names) != before and self._persist_names is not None:
                self._persist_names(self.state.tool_names.to_json())
        except BaseException:
            with anyio.CancelScope(shield=True):
                await runtime.release()
            raise
        return SelectedRootsStepTools(runtime, catalog, self._emit, self._policy, context=self._context)

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.retire()
        await self.pool.aclose()

