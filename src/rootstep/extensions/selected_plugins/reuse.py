"""Reuse or rebuild the thread's MCP runtime for a step (spec §5.7 steps 4–7), and — beyond the
reference — which servers to keep, start and stop when it is rebuilt.

All pure: the caller holds the published runtime and its inputs, computes (or skips) the
projection, and acts on the returned decision.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rootstep.extensions.selected_plugins.projection import McpProjection
from rootstep.extensions.selected_plugins.root import SelectedCapabilityRoot
from rootstep.config.mcp_servers import McpServerConfig


class RuntimeDecision(enum.Enum):
    REUSE = "reuse"  # same ready-root key: the published snapshot as is, no projection computed
    KEEP_MANAGER = "keep_manager"  # new key and plugins_available, same manager and processes
    REBUILD = "rebuild"  # new manager (see plan_server_changes for what actually restarts)


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


@dataclass(frozen=True)
class ServerPlan:
    """Names of *running* (enabled) servers to keep, start and stop, each sorted."""

    keep: tuple[str, ...]
    start: tuple[str, ...]
    stop: tuple[str, ...]


def plan_server_changes(
    old: Mapping[str, McpServerConfig],
    new: Mapping[str, McpServerConfig],
    restarted_environments: frozenset[str] = frozenset(),
) -> ServerPlan:
    """Rebuild only what changed: a server keeps its client and process when its resolved config
    (which includes its environment id) is equal and its environment was not restarted; a
    changed config is a stop plus a start. Disabled servers never run."""
    running_old = {n: c for n, c in old.items() if c.enabled}
    running_new = {n: c for n, c in new.items() if c.enabled}
    keep = sorted(
        n
        for n, c in running_new.items()
        if running_old.get(n) == c and c.environment_id not in restarted_environments
    )
    kept = set(keep)
    return ServerPlan(
        keep=tuple(keep),
        start=tuple(sorted(n for n in running_new if n not in kept)),
        stop=tuple(sorted(n for n in running_old if n not in kept)),
    )
