"""Paged history: ``thread/turns/list``, ``thread/items/list`` and ``thread/items/read``.

They read the same turns ``thread/read`` returns — the live ones of a loaded thread (a running
turn included, with the items completed so far), or those rebuilt from the rollout (archived
too) by the existing reader — and leave the paging decisions to :mod:`rootstep.core.history`.

As codex 0.169: the two list methods are stable, ``thread/items/read`` is experimental;
ephemeral threads have no history to page. Where the reference answers an unknown thread with
``-32601 ... is not supported yet`` (its legacy store cannot list items), we answer
``-32600 no rollout found for thread id <id>``, the text its source gives a missing thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.app_server.context import RequestContext
from rootstep.core.history import (
    HistoryError,
    ItemEntry,
    items_page,
    read_items,
    turns_page,
)
from rootstep.core.ids import is_uuid
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.history import (
    ThreadItemEntry,
    ThreadItemsListParams,
    ThreadItemsListResponse,
    ThreadItemsReadParams,
    ThreadItemsReadResponse,
    ThreadTurnsListParams,
    ThreadTurnsListResponse,
)
from rootstep.protocol.thread import Turn

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices


def _invalid(message: str) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, message)


def _error(exc: HistoryError) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS if exc.invalid_params else INVALID_REQUEST, str(exc))


def thread_turns(server: AppServer, thread_id: str, method: str, *, missing: str) -> list[Turn]:
    """The turns of a loaded thread, else of its rollout; ``missing`` is the unknown-thread text."""
    manager = server.manager
    loaded = manager.threads.get(thread_id)
    if loaded is not None:
        if loaded.ephemeral:
            raise _invalid(f"ephemeral threads do not support {method}")
        return list(loaded.turns)
    if not is_uuid(thread_id):
        raise _invalid(f"invalid thread id: {thread_id}")
    try:
        return manager.read_thread(thread_id, include_turns=True).turns
    except ThreadError:
        raise _invalid(missing) from None


def _entry(entry: ItemEntry) -> ThreadItemEntry:
    return ThreadItemEntry(turn_id=entry.turn_id, item=entry.item)


async def thread_turns_list(ctx: RequestContext, p: ThreadTurnsListParams) -> ThreadTurnsListResponse:
    turns = thread_turns(ctx.server, p.thread_id, "thread/turns/list", missing=f"thread not loaded: {p.thread_id}")
    try:
        page = turns_page(
            p.thread_id, turns, cursor=p.cursor, limit=p.limit, direction=p.sort_direction, view=p.items_view
        )
    except HistoryError as exc:
        raise _error(exc) from None
    return ThreadTurnsListResponse(
        data=page.turns, next_cursor=page.next_cursor, backwards_cursor=page.backwards_cursor
    )


async def thread_items_list(ctx: RequestContext, p: ThreadItemsListParams) -> ThreadItemsListResponse:
    turns = thread_turns(
        ctx.server, p.thread_id, "thread/items/list", missing=f"no rollout found for thread id {p.thread_id}"
    )
    cursor = p.cursor if isinstance(p.cursor, str) or p.cursor is None else p.cursor.model_dump(by_alias=True)
    try:
        page = items_page(
            p.thread_id, turns, turn_id=p.turn_id, cursor=cursor, limit=p.limit, direction=p.sort_direction
        )
    except HistoryError as exc:
        raise _error(exc) from None
    return ThreadItemsListResponse(
        data=[_entry(e) for e in page.entries], next_cursor=page.next_cursor, backwards_cursor=page.backwards_cursor
    )


async def thread_items_read(ctx: RequestContext, p: ThreadItemsReadParams) -> ThreadItemsReadResponse:
    try:
        # A bad id count needs no disk read: check it before loading the turns.
        read_items([], p.turn_id, p.item_ids)
        turns = thread_turns(
            ctx.server, p.thread_id, "thread/items/read", missing=f"no rollout found for thread id {p.thread_id}"
        )
        entries = read_items(turns, p.turn_id, p.item_ids)
    except HistoryError as exc:
        raise _error(exc) from None
    return ThreadItemsReadResponse(data=[_entry(e) for e in entries])


def register(table: MethodTable, services: AppServices) -> None:
    table.add("thread/turns/list", thread_turns_list, ThreadTurnsListParams)
    table.add("thread/items/list", thread_items_list, ThreadItemsListParams)
    table.add("thread/items/read", thread_items_read, ThreadItemsReadParams, experimental=True)
