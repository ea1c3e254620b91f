"""Model-visible tool names that never move within a thread (beyond the reference).

The reference recomputes collision suffixes from the current tool set, so a tool's name can
change when another root's tools appear later — and the model's history then names a tool that
no longer exists, or a different one. Here a name, once given to a tool identity, stays with it
for the thread's life (persist :meth:`StableToolNames.to_json` with the thread), and is never
handed to another identity, even after the first tool disappears.

A *tool identity* is an opaque string chosen by the caller (e.g. ``server\\0raw tool name``); a
name is the ``(namespace, name)`` pair the model sees. New identities get their preferred name
(computed by the normal naming rules, spec §6.2) when it is free, else the name with a
``_<sha1-12>`` suffix, keeping ``namespace + name + 2 <= 64``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

MAX_FLAT_NAME = 64
_RESERVED = 2
_HASH_LEN = 12

ToolName = tuple[str, str]


def _suffixed(preferred: ToolName, identity: str, attempt: int) -> ToolName:
    seed = identity if attempt == 0 else f"{identity}\0{attempt}"
    suffix = "_" + hashlib.sha1(seed.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    namespace, name = preferred
    budget = MAX_FLAT_NAME - _RESERVED - len(namespace)
    if budget < len(suffix) + 1:
        namespace = namespace[: MAX_FLAT_NAME - _RESERVED - len(suffix) - 1]
        budget = MAX_FLAT_NAME - _RESERVED - len(namespace)
    return namespace, name[: budget - len(suffix)] + suffix


class StableToolNames:
    """Allocator state for one thread: ``identity → (namespace, name)``, injective."""

    def __init__(self, assigned: Mapping[str, ToolName] | None = None) -> None:
        self._by_identity: dict[str, ToolName] = {}
        self._owner: dict[ToolName, str] = {}
        for identity, name in (assigned or {}).items():
            name = (name[0], name[1])
            if name in self._owner:
                raise ValueError(f"tool name {name} is assigned twice")
            self._by_identity[identity] = name
            self._owner[name] = identity

    def assign(self, preferred: Mapping[str, ToolName]) -> dict[str, ToolName]:
        """Names for the requested identities; new identities are allocated in identity order."""
        result: dict[str, ToolName] = {}
        for identity in sorted(preferred):
            name = self._by_identity.get(identity)
            if name is None:
                want = (preferred[identity][0], preferred[identity][1])
                name, attempt = want, 0
                while name in self._owner:
                    name = _suffixed(want, identity, attempt)
                    attempt += 1
                self._by_identity[identity] = name
                self._owner[name] = identity
            result[identity] = name
        return result

    def name_of(self, identity: str) -> ToolName | None:
        return self._by_identity.get(identity)

    def identity_of(self, name: ToolName) -> str | None:
        """Route a model call back to its tool identity."""
        return self._owner.get(name)

    def to_json(self) -> list[list[str]]:
        return [[identity, ns, name] for identity, (ns, name) in sorted(self._by_identity.items())]

    @classmethod
    def from_json(cls, data: Any) -> StableToolNames:
        if not isinstance(data, list):
            raise ValueError("tool name map must be a list of [identity, namespace, name]")
        assigned: dict[str, ToolName] = {}
        for row in data:
            if not (isinstance(row, list) and len(row) == 3 and all(isinstance(v, str) for v in row)):
                raise ValueError(f"invalid tool name entry {row!r}")
            assigned[row[0]] = (row[1], row[2])
        return cls(assigned)

    def __len__(self) -> int:
        return len(self._by_identity)
