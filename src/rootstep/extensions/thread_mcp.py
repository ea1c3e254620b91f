"""``ThreadMcp``: a thread's MCP servers — config.toml's, plus the plugins of the capability
roots it selected, step by step. A thread without roots is simply the projection of none.

At every model step (and every thread-scoped direct request) :meth:`ThreadMcp.resolve`

1. takes the thread's candidate roots in the environments the thread selected and waits for those
   environments to finish starting (bounded by their timeouts; not with ``deferred_executor``,
   where one still starting is ready at a later step); the roots whose environment is up are
   this step's *ready roots*;
2. same ready roots as the published runtime (and no reload or login pending) → that runtime,
   as is: no projection at all;
3. otherwise projects the ready roots (plugin metadata read once per root, requirements, the
   precedence table against config.toml's servers, the hosted-apps overlay) and publishes a new
   runtime whose servers come from the thread's :class:`~rootstep.mcp.server_pool.ServerPool` —
   the one reuse mechanism: a server whose resolved config and environment link are unchanged
   keeps its client and process; only added or changed servers start;
4. the step keeps the snapshot it captured; a replaced runtime closes when its last user ends.

Model-visible tool names are allocated by the thread's :class:`StableToolNames` (persisted in the
rollout as ``selected_roots_tool_names``): a name never moves within a thread or across resume.
A step's tools also carry the ready roots' skills and plugin guidance (``context_items``).

The MCP SDK (≈ 0.8 s of CPU to import) is loaded when the thread first needs a server — its
first step, a direct request, or a config.toml server starting with the thread — so a
``thread/start`` answers without it: the SDK-bound collaborators (:mod:`rootstep.mcp.server_pool`,
:mod:`rootstep.mcp.step_tools`, the elicitation router, transports) are imported in
:meth:`ThreadMcp._engine` only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import anyio

from rootstep import preload
from rootstep.config.mcp_servers import McpServersConfig
from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions import skills as skills_ext
from rootstep.extensions.selected_plugins.cache import EnvironmentLookup
from rootstep.extensions.selected_plugins.projection import McpProjection, Overlay, SetServer
from rootstep.extensions.selected_plugins.reuse import RuntimeDecision, same_ready_roots
from rootstep.extensions.selected_plugins.root import (
    StepEnvironments,
    dedupe_candidates,
    ready_roots,
    selected_candidates,
)
from rootstep.extensions.selected_plugins.thread_state import SelectedPluginsThread
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.mcp.catalog import ServerProvenance, ToolCatalog
from rootstep.mcp.startup import ServerGone, StartupStatus, startup_failure_text
from rootstep.mcp.tools import ToolInfo
from rootstep.mcp.wire import McpServerStartupStatusUpdated
from rootstep.protocol.capabilities import SelectedCapabilityRoot
from rootstep.protocol.items import McpAppContext, McpToolCallItem
from rootstep.tools import CallContext, FunctionCall, FunctionOutput, ItemSink, NoStepTools, ThreadView

if TYPE_CHECKING:
    from rootstep.mcp.elicitation import ElicitationRouter
    from rootstep.mcp.manager import Owner
    from rootstep.mcp.runtime import McpRuntime
    from rootstep.mcp.server_pool import ServerPool
    from rootstep.mcp.shared_servers import SharedServers
    from rootstep.mcp.step_tools import McpStepTools
    from rootstep.mcp.transports.factory import TransportFactory
    from rootstep.plugins.discovery import PluginPackage

log = logging.getLogger(__name__)

TOOL_NAMES_RECORD = "selected_roots_tool_names"

CatalogHook = Callable[[ToolCatalog, McpProjection], ToolCatalog]
Emit = Callable[[Any], Any]


def tool_identity(info: ToolInfo) -> str:
    """What a stable name belongs to: the plugin, the server and the raw tool (and connector)."""
    return "\0".join((info.plugin_id or "", info.server, info.connector_id or "", info.tool.name))


def provenance_of(projection: McpProjection) -> dict[str, ServerProvenance]:
    """Server → owning plugin for the plugin-owned winners of the catalog."""
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


def stored_tool_names(stored: Mapping[str, Any], thread_id: str) -> StableToolNames | None:
    """The last tool-name map a resumed thread's rollout holds, if any."""
    payload = stored.get(TOOL_NAMES_RECORD)
    names = payload.get("names") if isinstance(payload, dict) else None
    if names is None:
        return None
    try:
        return StableToolNames.from_json(names)
    except ValueError as exc:
        log.warning("thread %s: ignoring stored tool names: %s", thread_id, exc)
        return None


@dataclass(frozen=True)
class McpWiring:
    """What every thread's MCP shares with the app-server: the SDK-free part is plain data;
    ``transports`` and ``router`` are builders, called when the thread first needs a server."""

    environments: EnvironmentLookup
    transports: Callable[[str, ElicitationRouter | None], TransportFactory]
    router: Callable[[ThreadView], ElicitationRouter]
    emit: Emit | None = None
    generation: Callable[[str], int] = field(default=lambda env_id: 0)
    shared: SharedServers | None = None
    owner: Owner | None = None
    requirements: Requirements = EMPTY_REQUIREMENTS


class McpStep:
    """One step's MCP tools (``rootstep.tools.StepTools``), with the ready roots' context."""

    def __init__(
        self, tools: McpStepTools, context: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]]
    ) -> None:
        self.tools = tools
        self._context = context

    @property
    def catalog(self) -> ToolCatalog:
        return self.tools.catalog

    def model_tools(self) -> list[dict[str, Any]]:
        return self.tools.model_tools()

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._context(history)

    def handles(self, call: FunctionCall) -> bool:
        return self.tools.handles(call)

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        info = self.tools.catalog.route(call.namespace, call.name)
        sink: ItemSink = ctx.items
        if info is not None and info.connector_id:
            meta = info.tool.meta or {}
            name = meta.get("connector_name")
            sink = _AppContextSink(sink, McpAppContext(
                connector_id=info.connector_id, app_name=name if isinstance(name, str) else None,
                action_name=info.tool.name,
            ))
        return await self.tools.run(call, sink, thread_id=ctx.thread_id, turn_id=ctx.turn_id)

    async def aclose(self) -> None:
        await self.tools.aclose()


class _AppContextSink:
    """Adds ``appContext`` to the mcpToolCall items of a connector tool."""

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


class ThreadMcp:
    """A thread's MCP servers (a ``rootstep.tools.ToolSource``) and what direct requests need."""

    def __init__(
        self,
        thread: ThreadView,
        wiring: McpWiring,
        *,
        config_servers: McpServersConfig,
        step_environments: StepEnvironments,
        roots: Sequence[SelectedCapabilityRoot] = (),
        overlays: Callable[[], Sequence[Overlay]] = lambda: (),
        catalog_hook: CatalogHook | None = None,
        tool_names: StableToolNames | None = None,
        discovery: bool = False,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        self.thread = thread
        self._on_close = on_close
        self._wiring = wiring
        self.state = SelectedPluginsThread(roots, discovery=discovery, tool_names=tool_names)
        self._config = self._gated(config_servers)
        self._step_environments = step_environments
        self._overlays = overlays
        self._catalog_hook = catalog_hook
        self._runtime: McpRuntime | None = None
        self._projection = McpProjection(self.state.published.projection.catalog)
        self._packages: tuple[PluginPackage, ...] = ()
        self._pool: ServerPool | None = None
        self._router: ElicitationRouter | None = None
        self._force = False  # a reload or a login: the next resolve projects again
        self._lock = anyio.Lock(fast_acquire=True)
        self._closed = False
        self._scanned: int | None = None
        self.decisions: list[RuntimeDecision] = []  # what each resolve did (tests, bench)
        # The roots' executors start now, in the background: thread/start answers at once and
        # the first step waits only for what is left of their start-up; so does the MCP SDK,
        # whose import starts once thread/start is answered.
        candidates = self.candidate_roots()
        step_environments.start(dict.fromkeys(r.environment_id for r in candidates))
        if candidates or self._config.servers:
            preload.start_later(preload.MCP_MODULES)

    @property
    def thread_id(self) -> str:
        return self.thread.id

    # --- the SDK-bound collaborators, built at first need ----------------------------------

    def _engine(self) -> ServerPool:
        if self._pool is None:
            preload.wait()  # the SDK may be loading in the background
            from rootstep.mcp.server_pool import ServerPool

            self._router = self._wiring.router(self.thread)
            self._pool = ServerPool(
                self._wiring.transports(self.thread.cwd, self._router), on_status=self._on_status,
                generation=self._wiring.generation, shared=self._wiring.shared, owner=self._wiring.owner,
            )
        return self._pool

    @property
    def pool(self) -> ServerPool:
        return self._engine()

    @property
    def elicitation(self) -> ElicitationRouter:
        self._engine()
        assert self._router is not None
        return self._router

    # --- inputs ---------------------------------------------------------------------------

    def _gated(self, servers: McpServersConfig) -> McpServersConfig:
        requirements = self._wiring.requirements
        return McpServersConfig(requirements.apply_to_config_servers(servers.servers), dict(servers.errors))

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
        if self._wiring.emit is not None:
            await self._wiring.emit(McpServerStartupStatusUpdated(
                thread_id=self.thread_id, name=status.name, status=status.status, error=status.error,
                failure_reason=status.failure_reason,
            ))

    # --- what direct requests read --------------------------------------------------------

    @property
    def config_servers(self) -> McpServersConfig:
        return self._config

    @property
    def servers(self) -> McpServersConfig:
        """The servers of the published runtime (config.toml servers before the first step)."""
        if self._runtime is None:
            return self._config
        return McpServersConfig(dict(self._runtime.servers), dict(self._config.errors))

    @property
    def runtime(self) -> McpRuntime | None:
        return self._runtime

    async def status_view(self) -> tuple[McpServersConfig, McpRuntime | None, Mapping[str, ServerProvenance]]:
        """The projection for the roots ready now, with the latest config, without publishing
        anything (``mcpServerStatus/list``)."""
        projection = await self._project(await self.ready_roots())
        servers = McpServersConfig(projection.catalog.configured_servers(), dict(self._config.errors))
        return servers, self._runtime, provenance_of(projection)

    def request_refresh(self, servers: McpServersConfig) -> None:
        """``config/mcpServer/reload``: the new config.toml servers from the next step on."""
        gated = self._gated(servers)
        if gated != self._config:
            self._config = gated
            self._force = True

    def after_login(self, name: str) -> None:
        """A login for ``name`` succeeded: the next step connects it again with the new tokens
        (whatever its state: a session opened with old credentials may be bound to them)."""
        if self._pool is not None and self._pool.forget(name):
            self._force = True

    # --- publication ----------------------------------------------------------------------

    async def _project(self, ready: Sequence[SelectedCapabilityRoot]) -> McpProjection:
        return await self.state.preview(
            ready, self._wiring.environments, config_servers=self._config.servers,
            overlays=self._overlays(), requirements=self._wiring.requirements,
        )

    async def _publish(self, ready: Sequence[SelectedCapabilityRoot], projection: McpProjection) -> None:
        await preload.ready()
        from rootstep.mcp.runtime import McpRuntime

        servers = projection.catalog.configured_servers()
        manager = await self._engine().build(servers)
        runtime = McpRuntime(servers, manager, provenance=provenance_of(projection), config_errors=self._config.errors)  # type: ignore[arg-type]
        old, self._runtime = self._runtime, runtime
        self._projection = projection
        self.state.publish(ready, projection)
        await self._refresh_packages(ready)
        if old is not None:
            await old.retire()
        elif self._config.errors:
            # Like a freshly started runtime: invalid config.toml servers report as failed.
            for name, reason in sorted(self._config.errors.items()):
                await self._on_status(StartupStatus(name, "starting"))
                await self._on_status(StartupStatus(name, "failed", startup_failure_text(name, reason)))

    async def _refresh_packages(self, ready: Sequence[SelectedCapabilityRoot]) -> None:
        pairs = await self.state.cache.metadata_for_roots(ready, self._wiring.environments)
        self._packages = tuple(p for _r, p in pairs if p is not None)

    async def resolve(self) -> McpRuntime:
        """The runtime a step starting now captures, acquired (``release()`` it)."""
        if self._closed:
            raise ServerGone("the thread's MCP runtime is closed")
        ready = await self.ready_roots()
        async with self._lock:
            if (
                self._runtime is not None
                and not self._force
                and same_ready_roots(self.state.published.ready_roots, ready)
            ):
                self.decisions.append(RuntimeDecision.REUSE)
            else:
                await self._advance(ready)
            assert self._runtime is not None
            return self._runtime.acquire()

    async def _advance(self, ready: Sequence[SelectedCapabilityRoot]) -> None:
        """Publish for ``ready``: a new runtime, or the same one under a new ready-root key
        when the servers and connectors did not change (no process restarts either way)."""
        previous = self.state.published
        projection = await self._project(ready)
        decision = RuntimeDecision.REBUILD if self._runtime is None or self._force else \
            self.state.decide(ready, projection)
        self._force = False
        self.decisions.append(decision)
        if decision is RuntimeDecision.KEEP_MANAGER:
            kept = McpProjection(previous.projection.catalog, previous.projection.connector_sources,
                                 projection.plugins_available)
            self.state.publish(ready, kept)
            self._projection = replace(self._projection, plugins_available=projection.plugins_available)
            await self._refresh_packages(ready)
            return
        await self._publish(ready, projection)

    async def prestart(self) -> None:
        """Thread start: config.toml servers start now, like the reference (the selected roots'
        servers at the first step)."""
        if self._closed or self._runtime is not None or not (self._config.servers or self._config.errors):
            return
        async with self._lock:
            if self._runtime is None:
                await self._publish((), await self._project(()))

    async def validate_required(self) -> None:
        """A ``required`` config.toml server that cannot start fails ``thread/start``."""
        required = self._config.required()
        if required:
            await preload.ready()
            from rootstep.mcp.step_tools import check_required_servers

            await self.prestart()
            await check_required_servers(await self.resolve(), required)

    # --- steps (rootstep.tools.ToolSource) -------------------------------------------------

    def _context(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._scanned is None or self._scanned > len(history):
            start = len(history)
            while start > 0 and history[start - 1].get("role") == "user":
                start -= 1
        else:
            start = self._scanned
        items = skills_ext.context_items(self._packages, self._projection.plugins_available, history, history[start:])
        self._scanned = len(history) + len(items)
        return items

    def _serverless(self) -> bool:
        """Nothing to run: no roots, no config.toml servers (or broken entries), no server an
        extension adds, no runtime from before. Such a thread's steps never load the MCP SDK
        (≈ 0.6 s of imports before a process's first turn)."""
        config = self._config
        return (self._runtime is None and not self.state.roots and not config.servers and not config.errors
                and not any(isinstance(overlay, SetServer) for overlay in self._overlays()))

    async def capture(self) -> McpStep | NoStepTools:
        if self._serverless():
            return NoStepTools()
        await preload.ready()
        from rootstep.mcp.step_tools import McpStepTools

        runtime = await self.resolve()
        try:
            catalog = await runtime.catalog()
            if self._catalog_hook is not None:
                catalog = self._catalog_hook(catalog, self._projection)
            before = len(self.state.tool_names)
            catalog = stable_catalog(catalog, self.state.tool_names)
            if len(self.state.tool_names) != before:
                self.thread.record(TOOL_NAMES_RECORD, {"names": self.state.tool_names.to_json()})
            tools = McpStepTools(runtime, catalog, self._wiring.emit, self._policy, self._router)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await runtime.release()
            raise
        return McpStep(tools, self._context)

    def _policy(self) -> tuple[Any, str | None]:
        return self.thread.approval_policy, self.thread.sandbox_mode

    async def aclose(self) -> None:
        self._closed = True
        if self._on_close is not None:
            self._on_close()
        async with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.retire()
        if self._pool is not None:
            await self._pool.aclose()
