"""Per-thread plugin metadata, read once per selected root (spec §5.2–5.3).

Lives exactly as long as the thread's session object: a resumed thread starts with a fresh
state. The cache is keyed by the whole :class:`SelectedCapabilityRoot`.

* A hit never looks at environment availability; availability only decides whether a root is
  *projected* in a step.
* A resolution error (environment missing or unreachable, unreadable root, bad manifest) is
  logged and NOT cached: it is retried at the next step.
* "Not a plugin" (no manifest) and broken declaration files are cached (as None / empty lists).
* Concurrent misses for the same root may both read; the first insert wins (double-checked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from rootstep.environments.base import Environment
from rootstep.plugins.discovery import (
    PluginPackage,
    PluginResolutionError,
    discover_plugin,
    plugin_from_discovery,
)
from rootstep.protocol.capabilities import SelectedCapabilityRoot
from rootstep.protocol.path_uri import PathUri, PathUriError

log = logging.getLogger(__name__)

EnvironmentLookup = Callable[[str], Environment | None]
MAX_DISCOVERY_ROOTS_PER_REQUEST = 128


def _unavailable(root: SelectedCapabilityRoot) -> PluginResolutionError:
    return PluginResolutionError(
        f"selected capability root `{root.id}` references unavailable environment `{root.environment_id}`"
    )


class SelectedPluginsState:
    """The thread-scoped metadata cache of the per-file discovery path."""

    def __init__(self) -> None:
        self._entries: dict[SelectedCapabilityRoot, PluginPackage | None] = {}
        self.resolutions = 0  # how many times a root was actually read (observability / tests)

    def cached(self, root: SelectedCapabilityRoot) -> tuple[bool, PluginPackage | None]:
        if root in self._entries:
            return True, self._entries[root]
        return False, None

    async def metadata_for_root(
        self, root: SelectedCapabilityRoot, environments: EnvironmentLookup
    ) -> PluginPackage | None:
        hit, value = self.cached(root)
        if hit:
            return value
        try:
            env = environments(root.environment_id)
            if env is None:
                raise _unavailable(root)
            self.resolutions += 1
            package = await discover_plugin(env, root.id, root.environment_id, root.path)
        except PluginResolutionError as err:
            log.warning("failed to resolve selected executor plugin `%s`: %s", root.id, err)
            return None
        # Double-checked insert: another task may have cached this root while we were reading.
        return self._entries.setdefault(root, package)

    async def metadata_for_roots(
        self, roots: Sequence[SelectedCapabilityRoot], environments: EnvironmentLookup
    ) -> list[tuple[SelectedCapabilityRoot, PluginPackage | None]]:
        """Metadata for every root (misses read concurrently), in the given order."""
        results: list[PluginPackage | None] = [None] * len(roots)
        misses = []
        for i, root in enumerate(roots):
            if root in self._entries:
                results[i] = self._entries[root]
            else:
                misses.append(i)
        if misses:

            async def one(i: int) -> None:
                results[i] = await self.metadata_for_root(roots[i], environments)

            async with anyio.create_task_group() as tg:
                for i in misses:
                    tg.start_soon(one, i)
        return list(zip(roots, results, strict=True))


class CapabilityDiscoveryCache:
    """The thread-scoped cache of the batch path (feature ``executor_capability_discovery``).

    Missing roots are grouped per environment into ``capabilityRoots/discoverV1`` requests;
    successes *and* failures are memoized for the thread, as in the reference.
    """

    def __init__(self) -> None:
        self._entries: dict[SelectedCapabilityRoot, PluginPackage | None] = {}
        self.requests = 0

    async def _discover(self, env: Environment, roots: list[SelectedCapabilityRoot]) -> None:
        for start in range(0, len(roots), MAX_DISCOVERY_ROOTS_PER_REQUEST):
            chunk = roots[start : start + MAX_DISCOVERY_ROOTS_PER_REQUEST]
            self.requests += 1
            try:
                entries: list[Any] = await env.discover_capability_roots([(r.id, str(r.path)) for r in chunk])
            except Exception as err:  # noqa: BLE001 - a failed request is a per-root failure
                log.warning("exec-server capability discovery request failed: %s", err)
                entries = []
            if len(entries) != len(chunk):
                log.warning("capability discovery returned %d roots for %d requested", len(entries), len(chunk))
                entries = [None] * len(chunk)
            for root, entry in zip(chunk, entries, strict=True):
                package = None
                if isinstance(entry, dict) and entry.get("id") == root.id and _same_path(entry.get("path"), root):
                    package = plugin_from_discovery(root.id, root.environment_id, entry)
                elif entry is not None:
                    log.warning("capability discovery answered for a different root than `%s`", root.id)
                self._entries.setdefault(root, package)

    async def metadata_for_roots(
        self, roots: Sequence[SelectedCapabilityRoot], environments: EnvironmentLookup
    ) -> list[tuple[SelectedCapabilityRoot, PluginPackage | None]]:
        by_env: dict[str, list[SelectedCapabilityRoot]] = {}
        for root in roots:
            if root not in self._entries and root not in by_env.get(root.environment_id, []):
                by_env.setdefault(root.environment_id, []).append(root)
        if by_env:
            async with anyio.create_task_group() as tg:
                for env_id, env_roots in by_env.items():
                    env = environments(env_id)
                    if env is None:
                        for root in env_roots:  # not memoized: retried at the next step
                            log.warning("%s", _unavailable(root))
                        continue
                    tg.start_soon(self._discover, env, env_roots)
        return [(root, self._entries.get(root)) for root in roots]


def _same_path(raw: Any, root: SelectedCapabilityRoot) -> bool:
    try:
        return isinstance(raw, str) and PathUri.parse(raw) == root.path
    except PathUriError:
        return False
