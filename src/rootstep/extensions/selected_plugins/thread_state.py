"""``SelectedPluginsThread`` — everything the selected-roots extension keeps for one thread.

One object per live thread session (a resumed thread gets a fresh one: nothing is reused from a
previous process except the persisted tool-name map). It owns the metadata cache, the inputs of
the currently published runtime, the projection lock and the stable tool names. The MCP runtime
itself (manager, processes) is the core's: :meth:`step` says what to do with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import anyio

from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions.selected_plugins.cache import CapabilityDiscoveryCache, EnvironmentLookup, SelectedPluginsState
from rootstep.extensions.selected_plugins.catalog import ResolvedMcpCatalog
from rootstep.extensions.selected_plugins.projection import McpProjection, Overlay
from rootstep.extensions.selected_plugins.reuse import (
    PublishedInputs,
    RuntimeDecision,
    ServerPlan,
    plan_server_changes,
    same_ready_roots,
)
from rootstep.extensions.selected_plugins.root import SelectedCapabilityRoot
from rootstep.extensions.selected_plugins.step import project_step, resolve_step
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.config.mcp_servers import McpServerConfig

EMPTY_INPUTS = PublishedInputs((), McpProjection(ResolvedMcpCatalog()))


@dataclass(frozen=True)
class StepOutcome:
    """What a step must do with the thread's MCP runtime.

    * REUSE: keep using the published runtime; ``inputs is previous``.
    * KEEP_MANAGER: publish a snapshot with the same manager, ``inputs`` as its new key.
    * REBUILD: build a runtime for ``inputs``; ``plan`` says which servers keep their client and
      process and which start or stop (rebuild only what changed).
    """

    decision: RuntimeDecision
    inputs: PublishedInputs
    previous: PublishedInputs
    plan: ServerPlan | None = None


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
        self._lock = anyio.Lock()
        self.projections_computed = 0

    @property
    def published(self) -> PublishedInputs:
        return self._published

    async def step(
        self,
        ready_roots: Sequence[SelectedCapabilityRoot],
        environments: EnvironmentLookup,
        *,
        config_servers: Mapping[str, McpServerConfig] = {},  # noqa: B006 - read only
        overlays: Sequence[Overlay] = (),
        requirements: Requirements = EMPTY_REQUIREMENTS,
        restarted_environments: frozenset[str] = frozenset(),
    ) -> StepOutcome:
        """Spec §5.7 steps 4–7 with the projection lock; publishes the new inputs."""
        current = self._published
        if same_ready_roots(current.ready_roots, ready_roots):
            return StepOutcome(RuntimeDecision.REUSE, current, current)
        async with self._lock:
            current = self._published  # re-check under the lock
            if same_ready_roots(current.ready_roots, ready_roots):
                return StepOutcome(RuntimeDecision.REUSE, current, current)
            self.projections_computed += 1
            decision, inputs = await resolve_step(
                current,
                ready_roots,
                self.cache,
                environments,
                config_servers=config_servers,
                overlays=overlays,
                requirements=requirements,
            )
            plan = None
            if decision is RuntimeDecision.REBUILD:
                plan = plan_server_changes(
                    current.projection.catalog.configured_servers(),
                    inputs.projection.catalog.configured_servers(),
                    restarted_environments,
                )
            self._published = inputs
            return StepOutcome(decision, inputs, current, plan)

    async def preview(
        self,
        ready_roots: Sequence[SelectedCapabilityRoot],
        environments: EnvironmentLookup,
        *,
        config_servers: Mapping[str, McpServerConfig] = {},  # noqa: B006 - read only
        overlays: Sequence[Overlay] = (),
        requirements: Requirements = EMPTY_REQUIREMENTS,
    ) -> McpProjection:
        """The projection for ``ready_roots`` without publishing (``mcpServerStatus/list``, reload)."""
        return await project_step(
            ready_roots, self.cache, environments, config_servers=config_servers, overlays=overlays, requirements=requirements
        )
