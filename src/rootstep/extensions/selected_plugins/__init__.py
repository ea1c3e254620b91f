"""Selected capability roots: per-thread plugin metadata, projected per step through ready roots.

The seed's heart (spec §5). IO happens only in the caches; projection, catalog precedence, the
reuse decision, the server plan and stable tool names are pure functions of data.
"""

from rootstep.extensions.selected_plugins.cache import (
    CapabilityDiscoveryCache,
    EnvironmentLookup,
    SelectedPluginsState,
)
from rootstep.extensions.selected_plugins.catalog import (
    McpCatalogBuilder,
    McpServerConflict,
    McpServerSource,
    ResolvedMcpCatalog,
    ResolvedMcpServer,
)
from rootstep.extensions.selected_plugins.projection import (
    ConnectorSource,
    Contribution,
    InstalledPlugin,
    McpProjection,
    RemoveServer,
    SelectedPluginPackage,
    SelectedPluginServer,
    SetServer,
    build_projection,
    project_ready_roots,
)
from rootstep.extensions.selected_plugins.reuse import (
    PublishedInputs,
    RuntimeDecision,
    decide_runtime,
    same_ready_roots,
)
from rootstep.extensions.selected_plugins.root import dedupe_candidates, ready_roots
from rootstep.extensions.selected_plugins.step import project_step
from rootstep.extensions.selected_plugins.thread_state import (
    EMPTY_INPUTS,
    SelectedPluginsThread,
)
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.protocol.capabilities import InvalidRootError, SelectedCapabilityRoot

__all__ = [
    "EMPTY_INPUTS",
    "SelectedPluginsThread",
    "CapabilityDiscoveryCache",
    "ConnectorSource",
    "Contribution",
    "EnvironmentLookup",
    "InstalledPlugin",
    "InvalidRootError",
    "McpCatalogBuilder",
    "McpProjection",
    "McpServerConflict",
    "McpServerSource",
    "PublishedInputs",
    "RemoveServer",
    "ResolvedMcpCatalog",
    "ResolvedMcpServer",
    "RuntimeDecision",
    "SelectedCapabilityRoot",
    "SelectedPluginPackage",
    "SelectedPluginServer",
    "SelectedPluginsState",
    "SetServer",
    "StableToolNames",
    "build_projection",
    "decide_runtime",
    "dedupe_candidates",
    "project_ready_roots",
    "project_step",
    "ready_roots",
    "same_ready_roots",
]
