"""``SelectedCapabilityRoot``: a plugin a thread selected, located in an environment.

Parsed once from the wire (``thread/start.selectedCapabilityRoots``) and kept typed on the
thread. The value is the cache key of everything read from the root: two roots are the same only
when id, environment id *and* canonical path all match, so the same id at another path or in
another environment is a different entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rootstep.protocol.path_uri import PathUri, PathUriError

log = logging.getLogger(__name__)


class InvalidRootError(ValueError):
    """A wire root that cannot be accepted (bad location type or path)."""


@dataclass(frozen=True, slots=True)
class SelectedCapabilityRoot:
    id: str
    environment_id: str
    path: PathUri

    @classmethod
    def create(cls, id: str, environment_id: str, path: str | PathUri) -> SelectedCapabilityRoot:
        """``path`` may be a ``file:`` URI or an absolute native path."""
        try:
            return cls(id, environment_id, PathUri.coerce(path))
        except PathUriError as err:
            raise InvalidRootError(f"invalid selected capability root `{id}` path: {err}") from err

    @classmethod
    def from_wire(cls, raw: Any) -> SelectedCapabilityRoot:
        """``{id, location: {type: "environment", environmentId, path}}`` (a dict or a pydantic
        wire model with camelCase aliases)."""
        if hasattr(raw, "model_dump"):
            raw = raw.model_dump(by_alias=True)
        if not isinstance(raw, Mapping):
            raise InvalidRootError("selected capability root must be an object")
        location = raw.get("location")
        if not isinstance(raw.get("id"), str) or not isinstance(location, Mapping):
            raise InvalidRootError("selected capability root needs `id` and `location`")
        if location.get("type") != "environment":
            raise InvalidRootError(f"unsupported capability root location type `{location.get('type')}`")
        env_id, path = location.get("environmentId"), location.get("path")
        if not isinstance(env_id, str) or not isinstance(path, str):
            raise InvalidRootError("capability root location needs `environmentId` and `path`")
        return cls.create(raw["id"], env_id, path)

    def to_wire(self) -> dict[str, Any]:
        """Always the canonical ``file:`` URI spelling."""
        location = {"type": "environment", "environmentId": self.environment_id, "path": str(self.path)}
        return {"id": self.id, "location": location}


def roots_from_wire(raw: Any) -> tuple[SelectedCapabilityRoot, ...]:
    """Stored wire roots (a rollout's ``session_meta``) → values; an unreadable one is logged
    and skipped (the thread still loads)."""
    out = []
    for entry in raw if isinstance(raw, list) else ():
        try:
            out.append(SelectedCapabilityRoot.from_wire(entry))
        except InvalidRootError as exc:
            log.warning("ignoring selected capability root: %s", exc)
    return tuple(out)
