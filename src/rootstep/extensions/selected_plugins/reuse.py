"""Reuse or rebuild the thread's MCP runtime for a step.

All pure: the caller holds the published runtime and its inputs, computes (or skips) the
projection, and acts on the returned decision. Which servers then keep their process is the
server pool's business (:mod:`rootstep.mcp.server_pool`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.extensions.selected_plugins.projection import McpProjection
from rootstep.protocol.capabilities import SelectedCapabilityRoot


class RuntimeDecision(enum.Enum):
    REUSE = "reuse"  # same ready-root key: the published snapshot as is, no projection computed
    KEEP_MANAGER = "keep_manager"  # new key and plugins_available, same manager and processes
    REBUILD = "rebuild"  # a new runtime (its pool keeps every unchanged server's process)


@dataclass(frozen=True)
class PublishedInputs:
    """What the thread's current runtime was built from."""

    ready_roots: tuple[SelectedCapabilityRoot, ...]
    projection: McpProjection


def same_ready_roots(previous: Sequence[SelectedCapabilityRoot], ready: Sequence[SelectedCapabilityRoot]) -> bool:
    """Step 4's fast path: ordered list equality of the ready-root key."""
    return tuple(previous) == tuple(ready)


def availability_changed_for_enabled_server(
    previous_roots: Sequence[SelectedCapabilityRoot],
    ready_roots: Sequence[SelectedCapabilityRoot],
    servers: Mapping[str, McpServerConfig],
) -> bool:
    """Step 6(a): an enabled server whose environment entered or left the ready set."""
    was = {r.environment_id for r in previous_roots}
    now = {r.environment_id for r in ready_roots}
    return any(s.enabled and ((s.environment_id in was) != (s.environment_id in now)) for s in servers.values())


def decide_runtime(
    previous: PublishedInputs, ready_roots: Sequence[SelectedCapabilityRoot], projection: McpProjection | None
) -> RuntimeDecision:
    """The decision for a step whose ready roots are ``ready_roots``.

    ``projection`` may be None only when the key is unchanged (the fast path computes none).
    """
    if same_ready_roots(previous.ready_roots, ready_roots):
        return RuntimeDecision.REUSE
    if projection is None:
        raise ValueError("a changed ready-root key needs the new projection")
    if availability_changed_for_enabled_server(
        previous.ready_roots, ready_roots, projection.catalog.configured_servers()
    ):
        return RuntimeDecision.REBUILD
    if (
        previous.projection.catalog.has_same_servers(projection.catalog)
        and previous.projection.connector_sources == projection.connector_sources
    ):
        return RuntimeDecision.KEEP_MANAGER
    return RuntimeDecision.REBUILD
