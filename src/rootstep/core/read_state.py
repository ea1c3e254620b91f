"""Whether the user has seen a thread's latest results (``thread/readState/*``).

A durable thread gets a read state when its first turn ends: ``firstUnread`` points at the
earliest completed turn not yet read (``null`` once read, ``{"type": "threadStart"}`` when
marked unread by hand), and every change gets a fresh opaque ``revision`` that a client must
echo to change it (so a mark never hides activity it did not see). Persisted in the rollout
as a ``settings`` record ``{"read_state": ...}``. Pure functions; the caller stores the result.
"""

from __future__ import annotations

import uuid
from typing import Any

UNAVAILABLE = "thread read state unavailable"
CONFLICT = "read state changed"


class ReadStateError(ValueError):
    pass


def _new(first_unread: dict[str, Any] | None) -> dict[str, Any]:
    return {"firstUnread": first_unread, "revision": str(uuid.uuid4())}


def after_turn(state: dict[str, Any] | None, turn_id: str) -> dict[str, Any]:
    """A turn ended: it is unread unless something earlier already is."""
    first = state.get("firstUnread") if state else None
    return _new(first if first is not None else {"type": "turn", "turnId": turn_id})


def apply_operation(state: dict[str, Any] | None, operation: str, expected_revision: str) -> dict[str, Any]:
    if state is None:
        raise ReadStateError(UNAVAILABLE)
    if state.get("revision") != expected_revision:
        raise ReadStateError(CONFLICT)
    return _new(None if operation == "read" else {"type": "threadStart"})


def restored(meta: dict[str, Any]) -> dict[str, Any] | None:
    state = meta.get("read_state")
    return state if isinstance(state, dict) and isinstance(state.get("revision"), str) else None
