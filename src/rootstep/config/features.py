"""``[features]``: named feature flags, with the defaults codex 0.169 gives the ones rootstep reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# The flags rootstep acts on and their defaults when config.toml does not set them.
DEFAULTS: Mapping[str, bool] = {
    "apps": True,  # hosted connectors (codex_apps) and app/list, given ChatGPT auth
    "executor_capability_discovery": False,  # plugins read through capabilityRoots/discoverV1
    "deferred_executor": False,  # steps do not wait for the thread's environments
    "shell_snapshot": True,
    "unified_exec": True,
    "apply_patch_freeform": False,
    "goals": True,
    "collaboration_modes": True,
    "steer": True,
    "hooks": True,
    "plugins": True,
}


class Features(Mapping[str, bool]):
    """The ``[features]`` table as configured (a read-only mapping; unknown names are kept:
    clients list them); :meth:`enabled` adds the defaults."""

    def __init__(self, values: Mapping[str, bool] | None = None) -> None:
        self._values = dict(values or {})

    @classmethod
    def from_table(cls, raw: Any) -> Features:
        if not isinstance(raw, Mapping):
            return cls()
        return cls({str(k): v for k, v in raw.items() if isinstance(v, bool)})

    def enabled(self, name: str) -> bool:
        """The configured value, else the default (False for a flag nobody knows)."""
        value = self._values.get(name)
        return DEFAULTS.get(name, False) if value is None else value

    def __getitem__(self, name: str) -> bool:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(frozenset(self._values.items()))

    def __repr__(self) -> str:
        return f"Features({self._values!r})"
