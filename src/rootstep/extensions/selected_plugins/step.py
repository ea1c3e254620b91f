"""The per-step entry point: ready roots → (decision, inputs to publish). IO only via the cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions.selected_plugins.cache import CapabilityDiscoveryCache, EnvironmentLookup, SelectedPluginsState
from rootstep.extensions.selected_plugins.projection import (
    McpProjection,
    Overlay,
    build_projection,
    project_ready_roots,
)
from rootstep.extensions.selected_plugins.reuse import PublishedInputs, RuntimeDecision, decide_runtime, same_ready_roots
from rootstep.extensions.selected_plugins.root import SelectedCapabilityRoot
from rootstep.config.mcp_servers import McpServerConfig


async def project_step(
    ready_roots: Sequence[SelectedCapabilityRoot],
    cache: SelectedPluginsState | CapabilityDiscoveryCache,
    environments: EnvironmentLookup,
    *,
    config_servers: Mapping[str, McpServerConfig] = {},  # noqa: B006 - read only
    overlays: Sequence[Overlay] = (),
    requirements: Requirements = EMPTY_REQUIREMENTS,
) -> McpProjection:
    """The projection for this step's ready roots (spec §5.4–5.6); reads only on cache misses."""
    ready = await cache.metadata_for_roots(ready_roots, environments)
    contributions = project_ready_roots(ready, requirements)
    return build_projection(contributions, config_servers, overlays=overlays, requirements=requirements)


async def resolve_step(
    previous: PublishedInputs,
    ready_roots: Sequence[SelectedCapabilityRoot],
    cache: SelectedPluginsState | CapabilityDiscoveryCache,
    environments: EnvironmentLookup,
    *,
    config_servers: Mapping[str, McpServerConfig] = {},  # noqa: B006 - read only
    overlays: Sequence[Overlay] = (),
    requirements: Requirements = EMPTY_REQUIREMENTS,
) -> tuple[RuntimeDecision, PublishedInputs]:
    """Steps 4–7 of spec §5.7. Returns the decision and the inputs the runtime to publish has.

    REUSE returns ``previous`` itself (nothing computed). KEEP_MANAGER keeps the previous
    catalog and connectors with the new key and ``plugins_available``. REBUILD returns the new
    projection; pair it with :func:`plan_server_changes` to restart only what changed. The caller
    serializes calls per thread (the projection lock) and re-checks the fast path under it.
    """
    if same_ready_roots(previous.ready_roots, ready_roots):
        return RuntimeDecision.REUSE, previous
    projection = await project_step(
        ready_roots, cache, environments, config_servers=config_servers, overlays=overlays, requirements=requirements
    )
    decision = decide_runtime(previous, ready_roots, projection)
    if decision is RuntimeDecision.KEEP_MANAGER:
        kept = McpProjection(previous.projection.catalog, previous.projection.connector_sources, projection.plugins_available)
        return decision, PublishedInputs(tuple(ready_roots), kept)
    return decision, PublishedInputs(tuple(ready_roots), projection)
