"""``SelectedPluginsThread`` — what the selected-roots extension keeps for one thread.

One object per live thread session (a resumed thread gets a fresh one: nothing is reused from a
previous process except the persisted tool-name map). It owns the metadata cache, the inputs of
the currently published runtime and the stable tool names; the MCP runtime itself (manager,
processes) belongs to :class:`~rootstep.extensions.thread_mcp.ThreadMcp`, which serializes the
calls here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions.selected_plugins.cache import CapabilityDiscoveryCache, EnvironmentLookup, SelectedPluginsState
from rootstep.extensions.selected_plugins.catalog import ResolvedMcpCatalog
from rootstep.extensions.selected_plugins.projection import McpProjection, Overlay
from rootstep.extensions.selected_plugins.reuse import PublishedInputs, RuntimeDecision, decide_runtime
from rootstep.extensions.selected_plugins.step import project_step
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.protocol.capabilities import SelectedCapabilityRoot

EMPTY_INPUTS = PublishedInputs((), McpProjection(ResolvedMcpCatalog()))


class SelectedPluginsThread:
    def __init__(
        self,
        roots: Iterable[SelectedCapabilityRoot] = (),
        *,
        discovery: bool = False,
        tool_names: StableToolNames | None = None,
        initial: PublishedInputs = EMPTY_INPUTS,
    ) -> None:
        self.roots: tuple[SelectedCapabilityRoot, ...] = tuple(roots)
        self.cache: SelectedPluginsState | CapabilityDiscoveryCache = (
            CapabilityDiscoveryCache() if discovery else SelectedPluginsState()
        )
        self.tool_names = tool_names or StableToolNames()
        self._published = initial

    @property
    def published(self) -> PublishedInputs:
        """What the published runtime was built from (its ready-root key and projection)."""
        return self._published

    def decide(self, ready_roots: Sequence[SelectedCapabilityRoot], projection: McpProjection) -> RuntimeDecision:
        """Reuse, keep the manager under a new key, or rebuild (the pure decision)."""
        return decide_runtime(self._published, ready_roots, projection)

    def publish(self, ready_roots: Sequence[SelectedCapabilityRoot], projection: McpProjection) -> None:
        self._published = PublishedInputs(tuple(ready_roots), projection)

    async def preview(
        self,
        ready_roots: Sequence[SelectedCapabilityRoot],
        environments: EnvironmentLookup,
        *,
        config_servers: Mapping[str, McpServerConfig] = {},  # noqa: B006 - read only
        overlays: Sequence[Overlay] = (),
        requirements: Requirements = EMPTY_REQUIREMENTS,
    ) -> McpProjection:
        """The projection for ``ready_roots`` (plugin files read only on cache misses)."""
        return await project_step(
            ready_roots, self.cache, environments,
            config_servers=config_servers, overlays=overlays, requirements=requirements,
        )
