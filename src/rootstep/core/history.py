"""Paged history: which turns and items one page of ``thread/turns/list`` /
``thread/items/list`` holds, and the cursors that continue it.

Pure functions over a thread's turns (the wire ``Turn`` models that ``thread/read`` returns,
whether the thread is loaded or only persisted), so the paging rules can be tested without a
server. The rules follow codex 0.169:

* page size: default 25, clamped to 1..100 (``limit: 0`` gives one entry);
* turns default to newest first, items to oldest first;
* a cursor names an *anchor* entry: ``nextCursor`` excludes it (continue after the last entry
  returned), ``backwardsCursor`` includes it (used with the opposite direction it re-reads the
  page's first entry, so a client catches updates to a turn still running);
* ``nextCursor`` is null when nothing is left in that direction;
* cursors are opaque JSON strings bound to one thread and one listing (turns, the items of the
  whole thread, the items of one turn); anything else is ``invalid cursor: <cursor>``.

Anchors are ids, not positions: the rollout only ever appends, so an id keeps its place, and a
turn still running can grow between two pages without shifting anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from rootstep.protocol.thread import Turn

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_READ_IDS = 100

SortDirection = Literal["asc", "desc"]
ItemsView = Literal["notLoaded", "summary", "full"]

K = TypeVar("K")


class HistoryError(Exception):
    """A request the history cannot answer; ``invalid_params`` selects -32602 over -32600."""

    def __init__(self, message: str, *, invalid_params: bool = False) -> None:
        super().__init__(message)
        self.invalid_params = invalid_params


def page_size(limit: int | None) -> int:
    return max(1, min(MAX_LIMIT, DEFAULT_LIMIT if limit is None else limit))


# --- generic paging ----------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """Where a page starts: the entry with ``key``, itself included or not."""

    key: Any
    include: bool


@dataclass(frozen=True)
class Page:
    """Indices (into the canonical, oldest-first list) of one page, in response order."""

    indices: list[int]
    more: bool

    @property
    def first(self) -> int | None:
        return self.indices[0] if self.indices else None

    @property
    def last(self) -> int | None:
        return self.indices[-1] if self.indices else None


def paginate(keys: Sequence[K], anchor: Anchor | None, size: int, direction: SortDirection) -> Page:
    """One page over entries identified by ``keys`` (oldest first).

    An anchor whose key is gone raises: a client holding it would otherwise silently restart
    from the beginning and see entries twice.
    """
    order = list(range(len(keys)))
    if direction == "desc":
        order.reverse()
    if anchor is not None:
        try:
            at = list(keys).index(anchor.key)
        except ValueError:
            raise HistoryError("invalid cursor: anchor is no longer present") from None
        if direction == "asc":
            order = [i for i in order if i > at or (anchor.include and i == at)]
        else:
            order = [i for i in order if i < at or (anchor.include and i == at)]
    return Page(indices=order[:size], more=len(order) > size)


# --- cursors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The listing a cursor belongs to: turns, or items (of the whole thread or one turn)."""

    thread_id: str
    kind: Literal["turns", "items"]
    turn_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "turnId": self.turn_id} if self.turn_id is not None else {"kind": self.kind}


def encode_cursor(scope: Scope, key: Any, include: bool) -> str:
    return json.dumps(
        {"requestedThreadId": scope.thread_id, "scope": scope.to_json(), "anchor": key, "includeAnchor": include},
        separators=(",", ":"),
    )


def decode_cursor(raw: str, scope: Scope) -> Anchor:
    """The anchor of a cursor this server issued for exactly this listing."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if (
        not isinstance(data, dict)
        or data.get("requestedThreadId") != scope.thread_id
        or data.get("scope") != scope.to_json()
        or not isinstance(data.get("includeAnchor"), bool)
        or "anchor" not in data
    ):
        raise HistoryError(f"invalid cursor: {raw}")
    key = data["anchor"]
    return Anchor(key=tuple(key) if isinstance(key, list) else key, include=data["includeAnchor"])


def cursors(scope: Scope, keys: Sequence[Any], page: Page) -> tuple[str | None, str | None]:
    """(nextCursor, backwardsCursor) of a page."""
    next_cursor = (
        encode_cursor(scope, _jsonable(keys[page.last]), False) if page.more and page.last is not None else None
    )
    backwards = encode_cursor(scope, _jsonable(keys[page.first]), True) if page.first is not None else None
    return next_cursor, backwards


def _jsonable(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key


# --- turns -------------------------------------------------------------------------------


def turn_items_view(items: Sequence[Any], view: ItemsView) -> list[Any]:
    """``summary`` keeps the first user message and the last agent message (what a turn list
    row shows); ``notLoaded`` keeps nothing; ``full`` keeps everything."""
    if view == "full":
        return list(items)
    if view == "notLoaded":
        return []
    user = next((i for i in items if _kind(i) == "userMessage"), None)
    agent = next((i for i in reversed(items) if _kind(i) == "agentMessage"), None)
    return [i for i in (user, agent) if i is not None]


@dataclass(frozen=True)
class TurnsPage:
    turns: list[Turn]
    next_cursor: str | None
    backwards_cursor: str | None


def turns_page(
    thread_id: str,
    turns: Sequence[Turn],
    *,
    cursor: str | None,
    limit: int | None,
    direction: SortDirection | None,
    view: ItemsView | None,
) -> TurnsPage:
    scope = Scope(thread_id, "turns")
    keys = [t.id for t in turns]
    anchor = decode_cursor(cursor, scope) if cursor is not None else None
    page = paginate(keys, anchor, page_size(limit), direction or "desc")
    next_cursor, backwards = cursors(scope, keys, page)
    view = view or "summary"
    data = [
        turns[i].model_copy(update={"items": turn_items_view(turns[i].items, view), "items_view": view})
        for i in page.indices
    ]
    return TurnsPage(turns=data, next_cursor=next_cursor, backwards_cursor=backwards)


# --- items -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemEntry:
    turn_id: str
    item: Any


def item_entries(
    turns: Sequence[Turn], turn_id: str | None = None
) -> tuple[list[ItemEntry], list[tuple[str, str, int]]]:
    """Every item (of one turn, or of the thread) in stored order, with its paging key.

    A key is ``(turnId, itemId, n)``: item ids come from the model and need not be unique, so
    ``n`` counts earlier items of the same turn with the same id.
    """
    entries: list[ItemEntry] = []
    keys: list[tuple[str, str, int]] = []
    for turn in turns:
        if turn_id is not None and turn.id != turn_id:
            continue
        seen: dict[str, int] = {}
        for item in turn.items:
            item_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            n = seen.get(item_id, 0)
            seen[item_id] = n + 1
            entries.append(ItemEntry(turn_id=turn.id, item=item))
            keys.append((turn.id, item_id, n))
    return entries, keys


@dataclass(frozen=True)
class ItemsPage:
    entries: list[ItemEntry]
    next_cursor: str | None
    backwards_cursor: str | None


def items_page(
    thread_id: str,
    turns: Sequence[Turn],
    *,
    turn_id: str | None,
    cursor: str | dict[str, Any] | None,
    limit: int | None,
    direction: SortDirection | None,
) -> ItemsPage:
    """A page of items; ``cursor`` is a string this server issued or an item anchor
    ``{"type": "item", "itemId": ...}`` inside ``turn_id`` (exclusive)."""
    scope = Scope(thread_id, "items", turn_id)
    entries, keys = item_entries(turns, turn_id)
    if isinstance(cursor, dict):
        anchor: Anchor | None = item_anchor(cursor, turn_id, keys)
    else:
        anchor = decode_cursor(cursor, scope) if cursor is not None else None
    page = paginate(keys, anchor, page_size(limit), direction or "asc")
    next_cursor, backwards = cursors(scope, keys, page)
    return ItemsPage(entries=[entries[i] for i in page.indices], next_cursor=next_cursor, backwards_cursor=backwards)


def item_anchor(cursor: dict[str, Any], turn_id: str | None, keys: Sequence[tuple[str, str, int]]) -> Anchor:
    """An explicit ``{"type": "item", "itemId"}`` anchor: only within one named turn."""
    if not turn_id:
        raise HistoryError("turnId is required when cursor is an item anchor", invalid_params=True)
    item_id = cursor.get("itemId")
    key = next((k for k in keys if k[0] == turn_id and k[1] == item_id), None)
    if key is None:
        raise HistoryError(
            "cursor.itemId does not identify an item in the requested history scope", invalid_params=True
        )
    return Anchor(key=key, include=False)


def read_items(turns: Sequence[Turn], turn_id: str, item_ids: Sequence[str]) -> list[ItemEntry]:
    """``thread/items/read``: the turn's items whose id was asked for, in stored order."""
    if not 1 <= len(item_ids) <= MAX_READ_IDS:
        raise HistoryError(f"itemIds must contain 1 to {MAX_READ_IDS} IDs")
    wanted = set(item_ids)
    entries, _ = item_entries(turns, turn_id)
    return [e for e in entries if isinstance(e.item, dict) and e.item.get("id") in wanted]


def _kind(item: Any) -> str | None:
    return item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
