"""The projection of one step's ready roots (IO only through the metadata cache)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions.selected_plugins.cache import (
    CapabilityDiscoveryCache,
    EnvironmentLookup,
    SelectedPluginsState,
)
from rootstep.extensions.selected_plugins.projection import (
    McpProjection,
    Overlay,
    build_projection,
    project_ready_roots,
)
from rootstep.protocol.capabilities import SelectedCapabilityRoot


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
