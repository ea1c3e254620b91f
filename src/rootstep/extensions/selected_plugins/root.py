"""Which of a thread's selected roots a step may use: candidates, the thread's environments,
readiness (all pure but :class:`StepEnvironments`, the step's view of executors)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rootstep.protocol.capabilities import SelectedCapabilityRoot

log = logging.getLogger(__name__)


def dedupe_candidates(roots: list[SelectedCapabilityRoot]) -> list[SelectedCapabilityRoot]:
    """Candidate roots for a step: first occurrence of each id wins (spec §5.7 step 1)."""
    seen: dict[str, SelectedCapabilityRoot] = {}
    out: list[SelectedCapabilityRoot] = []
    for root in roots:
        kept = seen.get(root.id)
        if kept is None:
            seen[root.id] = root
            out.append(root)
        elif kept != root:
            log.warning(
                "ignoring selected capability root with conflicting location: id=%s kept=%s ignored=%s",
                root.id, kept.to_wire()["location"], root.to_wire()["location"],
            )
    return out


def selected_candidates(
    candidates: Iterable[SelectedCapabilityRoot], selected_environments: Iterable[str]
) -> list[SelectedCapabilityRoot]:
    """Keep the candidates whose environment the thread selected (``thread/start`` /
    ``turn/start`` ``environments``, or the default selection), in order. As in 0.169, a root in
    an environment outside the selection never joins, even when that environment is up."""
    selected = set(selected_environments)
    return [root for root in candidates if root.environment_id in selected]


class StepEnvironments(Protocol):
    """A thread's environments as its steps see them."""

    def selected(self) -> Sequence[str]:
        """The thread's current environment selection (ids, in order)."""
        ...

    def start(self, env_ids: Iterable[str]) -> None:
        """Start these environments in the background (never waits, never raises)."""
        ...

    async def capture(self, env_ids: Sequence[str]) -> frozenset[str]:
        """Those of ``env_ids`` this step may use: awaited until their start-up is over
        (bounded by its timeouts) unless the thread defers executors, in which case those
        ready now."""
        ...


@dataclass(frozen=True)
class AlwaysUp:
    """``StepEnvironments`` whose selected environments are always up (the local machine;
    in-process use such as benchmarks)."""

    ids: tuple[str, ...] = ("local",)

    def selected(self) -> Sequence[str]:
        return self.ids

    def start(self, env_ids: Iterable[str]) -> None:
        return None

    async def capture(self, env_ids: Sequence[str]) -> frozenset[str]:
        return frozenset(e for e in env_ids if e in self.ids)


def ready_roots(
    candidates: Iterable[SelectedCapabilityRoot], is_ready: Callable[[str], bool]
) -> list[SelectedCapabilityRoot]:
    """Keep the candidates whose environment is ready for this step, in order (spec §5.7 step 2).

    ``is_ready`` is asked once per environment id; the caller's answer is the step's fact (an
    environment still starting is simply not ready now and may be at a later step).
    """
    decided: dict[str, bool] = {}
    out = []
    for root in candidates:
        ready = decided.get(root.environment_id)
        if ready is None:
            ready = decided[root.environment_id] = is_ready(root.environment_id)
        if ready:
            out.append(root)
    return out
