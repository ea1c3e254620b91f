"""thread/start, resume, fork, read, list, archive, unarchive, name/set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from rootstep.app_server.clients import subscribed_elsewhere
from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.app_server.processors.thread_settings import sandbox_wire, thread_settings
from rootstep.core.ids import is_uuid
from rootstep.core.manager import SettingsOverrides, ThreadError
from rootstep.core.thread import Thread
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.capabilities import InvalidRootError, SelectedCapabilityRoot
from rootstep.protocol.notifications import (
    ThreadArchived,
    ThreadClosed,
    ThreadNameUpdated,
    ThreadStarted,
    ThreadStatusChanged,
    ThreadTokenUsageUpdated,
    ThreadUnarchived,
)
from rootstep.protocol.thread import (
    EXPERIMENTAL_THREAD_START_FIELDS,
    EmptyResponse,
    ThreadForkParams,
    ThreadIdParams,
    ThreadListParams,
    ThreadListResponse,
    ThreadLoadedListParams,
    ThreadLoadedListResponse,
    ThreadReadParams,
    ThreadResponse,
    ThreadResumeParams,
    ThreadResumeResponse,
    ThreadSessionResponse,
    ThreadSetNameParams,
    ThreadStartParams,
    ThreadUnsubscribeResponse,
    TurnsPageWire,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices


def _invalid(message: str) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, message)


def overrides_of(params: Any) -> SettingsOverrides:
    if getattr(params, "sandbox", None) and getattr(params, "permissions", None):
        raise _invalid("`permissions` cannot be combined with `sandbox`")
    return SettingsOverrides(
        model=params.model,
        model_provider=params.model_provider,
        cwd=params.cwd,
        approval_policy=params.approval_policy,
        sandbox=params.sandbox,
        base_instructions=params.base_instructions,
        developer_instructions=params.developer_instructions,
        config=params.config,
        approvals_reviewer=params.approvals_reviewer,
        service_tier=params.service_tier,
    )


def session_response(
    thread: Thread, *, include_turns: bool = False, response_type: type[ThreadSessionResponse] = ThreadSessionResponse,
    **extra: Any,
) -> ThreadSessionResponse:
    s = thread.settings
    roots: list[str] = []
    for selection in thread.environments or []:
        roots += [r for r in selection.runtime_workspace_roots or [] if r not in roots]
    return response_type(
        **extra,
        runtime_workspace_roots=roots,
        thread=thread.to_wire(include_turns=include_turns),
        model=s.model,
        model_provider=s.model_provider_id,
        service_tier=s.service_tier,
        cwd=s.cwd,
        approval_policy=s.approval_policy,
        approvals_reviewer=s.approvals_reviewer,
        sandbox=sandbox_wire(thread),
        reasoning_effort=s.effort,
        active_permission_profile=thread.permission_profile,
    )


def parse_root(root: dict[str, Any]) -> SelectedCapabilityRoot:
    """A wire root, parsed once (persisted and echoed with a canonical ``file:`` URI path)."""
    try:
        return SelectedCapabilityRoot.from_wire(root)
    except InvalidRootError as exc:
        raise _invalid(str(exc)) from None


def _errors(fn: Any) -> Any:
    """ThreadError → -32600 with its message."""

    async def wrapper(ctx: RequestContext, params: Any) -> Any:
        try:
            return await fn(ctx, params)
        except ThreadError as exc:
            raise _invalid(str(exc)) from None

    wrapper.__name__ = fn.__name__
    return wrapper


@_errors
async def thread_start(ctx: RequestContext, p: ThreadStartParams) -> None:
    roots = [parse_root(r) for r in p.selected_capability_roots or []]
    thread = ctx.server.manager.start_thread(
        overrides_of(p), ephemeral=bool(p.ephemeral), selected_capability_roots=roots, environments=p.environments
    )
    ctx.connection.subscriptions.add(thread.id)
    remember_start_choices(thread, p)
    mcp = ctx.server.services.mcp.for_thread(thread.id)
    if mcp is not None:
        try:
            await mcp.validate_required()  # a `required` config.toml server must start
        except Exception as exc:  # noqa: BLE001 - the thread does not start; its children go
            ctx.server.manager.threads.pop(thread.id, None)
            await thread.aclose()
            raise JsonRpcError(INTERNAL_ERROR, str(exc)) from None
    await ctx.respond(session_response(thread))
    await ctx.server.emit(ThreadStarted(thread=thread.to_wire()))
    if mcp is not None:
        # config.toml servers start with the thread, in the server's task group: the thread's,
        # not the request's (which ends if the client goes away).
        ctx.server.services.background.start_soon(mcp.prestart, name=f"prestart:{thread.id}")


async def _rollout(ctx: RequestContext, thread_id: str, path: str | None) -> Any:
    """The rollout a resume/fork of an unloaded thread reads, read in a worker thread (a
    client-named ``path`` may be any file: it is refused or read bounded, never on the loop)."""
    manager = ctx.server.manager
    if thread_id in manager.threads or (not path and not is_uuid(thread_id)):
        return None  # loaded (nothing to read), or an error the manager reports
    return await anyio.to_thread.run_sync(manager.load_rollout, thread_id, path)


def remember_start_choices(thread: Thread, p: ThreadStartParams) -> None:
    """thread/start's ``threadSource`` and ``historyMode`` are echoed in the thread (and kept)."""
    choices: dict[str, Any] = {}
    if p.thread_source is not None:
        thread.thread_source = choices["thread_source"] = p.thread_source
    if p.history_mode is not None:
        thread.history_mode = choices["history_mode"] = p.history_mode
    if choices:
        thread.record("settings", choices)


def resume_response(thread: Thread, p: ThreadResumeParams) -> ThreadResumeResponse:
    """The session response plus what a client needs to page the history in: the requested
    first page of turns and cursors that read backwards from the newest turn and item."""
    from rootstep.core.history import Scope, encode_cursor, item_entries, turns_page

    page = None
    if p.initial_turns_page is not None and not thread.ephemeral:
        wanted = p.initial_turns_page
        first = turns_page(thread.id, thread.turns, cursor=None, limit=wanted.limit,
                           direction=wanted.sort_direction, view=wanted.items_view)
        page = TurnsPageWire(data=first.turns, next_cursor=first.next_cursor, backwards_cursor=first.backwards_cursor)
    turns_cursor = items_cursor = None
    if thread.turns and not thread.ephemeral:
        turns_cursor = encode_cursor(Scope(thread.id, "turns"), thread.turns[-1].id, True)
        _, keys = item_entries(thread.turns)
        if keys:
            items_cursor = encode_cursor(Scope(thread.id, "items"), list(keys[-1]), True)
    return session_response(  # type: ignore[return-value]
        thread, include_turns=not p.exclude_turns, response_type=ThreadResumeResponse,
        collaboration_mode=thread_settings(thread).collaboration_mode, initial_turns_page=page,
        turns_backwards_cursor=turns_cursor, items_backwards_cursor=items_cursor,
    )


@_errors
async def thread_resume(ctx: RequestContext, p: ThreadResumeParams) -> None:
    from rootstep.app_server.processors.goals import announce_goal

    manager = ctx.server.manager
    was_loaded = p.thread_id in manager.threads
    rollout = await _rollout(ctx, p.thread_id, p.path)
    thread = manager.resume_thread(p.thread_id, overrides_of(p), path=p.path, rollout=rollout)
    ctx.connection.subscriptions.add(thread.id)
    if was_loaded:
        await ctx.respond(resume_response(thread, p))
        await announce_goal(ctx.server, thread)
        return
    # As codex 0.169: the thread's status first (it is loaded now), then the response, then
    # the restored token usage (no thread/started on resume).
    await ctx.server.emit(ThreadStatusChanged(thread_id=thread.id, status=thread.status()))
    await ctx.respond(resume_response(thread, p))
    await announce_goal(ctx.server, thread)
    if thread.turns and thread.total_usage.total_tokens:
        await ctx.server.emit(
            ThreadTokenUsageUpdated(
                thread_id=thread.id, turn_id=thread.turns[-1].id, token_usage=thread.token_usage(thread.total_usage)
            )
        )


@_errors
async def thread_fork(ctx: RequestContext, p: ThreadForkParams) -> None:
    rollout = await _rollout(ctx, p.thread_id, p.path)
    thread = ctx.server.manager.fork_thread(
        p.thread_id, overrides_of(p), path=p.path, ephemeral=p.ephemeral, rollout=rollout
    )
    ctx.connection.subscriptions.add(thread.id)
    await ctx.respond(session_response(thread, include_turns=not p.exclude_turns))
    await ctx.server.emit(ThreadStarted(thread=thread.to_wire()))


@_errors
async def thread_read(ctx: RequestContext, p: ThreadReadParams) -> ThreadResponse:
    return ThreadResponse(thread=ctx.server.manager.read_thread(p.thread_id, include_turns=p.include_turns))


def listed(thread: Any, p: ThreadListParams) -> bool:
    """Whether a thread passes thread/list's filters the manager does not apply. Pure."""
    if p.section_id is not None and thread.section != p.section_id:
        return False  # no thread of this server is in a section
    if p.source_kinds:
        kind = thread.source if isinstance(thread.source, str) else "subAgent"
        if kind not in p.source_kinds:
            return False
    if p.cwd is not None and thread.cwd != p.cwd:
        return False
    if p.excluded_thread_ids and thread.id in p.excluded_thread_ids:
        return False
    if p.parent_thread_id is not None and thread.parent_thread_id != p.parent_thread_id:
        return False
    return True


def read_states_of(server: Any, threads: list[Any]) -> dict[str, Any]:
    """The read state of each listed thread that has one (loaded, or from its rollout)."""
    from rootstep.app_server.processors.thread_settings import stored_read_state

    out: dict[str, Any] = {}
    for wire_thread in threads:
        loaded = server.manager.threads.get(wire_thread.id)
        state = loaded.read_state if loaded is not None else stored_read_state(server, wire_thread.id, wire_thread.path)
        if state is not None:
            out[wire_thread.id] = state
    return out


@_errors
async def thread_list(ctx: RequestContext, p: ThreadListParams) -> ThreadListResponse:
    filtered = any(v is not None for v in (p.section_id, p.cwd, p.parent_thread_id)) or bool(
        p.source_kinds or p.excluded_thread_ids
    )
    page = ctx.server.manager.list_threads(
        cursor=p.cursor, limit=10_000 if filtered and not p.cursor else p.limit, archived=bool(p.archived),
        model_providers=p.model_providers, search_term=p.search_term,
        sort_key=p.sort_key, sort_direction=p.sort_direction,
    )
    data, next_cursor = page.threads, page.next_cursor
    if filtered and not p.cursor:
        data = [t for t in data if listed(t, p)]
        limit = 25 if not p.limit or p.limit <= 0 else min(p.limit, 100)
        data, next_cursor = data[:limit], None
    return ThreadListResponse(data=data, read_states=read_states_of(ctx.server, data), next_cursor=next_cursor)


@_errors
async def thread_archive(ctx: RequestContext, p: ThreadIdParams) -> None:
    await ctx.server.manager.archive_thread(p.thread_id)
    await ctx.respond(EmptyResponse())
    await ctx.server.emit(ThreadArchived(thread_id=p.thread_id))


@_errors
async def thread_unarchive(ctx: RequestContext, p: ThreadIdParams) -> None:
    thread = ctx.server.manager.unarchive_thread(p.thread_id)
    await ctx.respond(ThreadResponse(thread=thread))
    await ctx.server.emit(ThreadUnarchived(thread_id=p.thread_id))


@_errors
async def thread_set_name(ctx: RequestContext, p: ThreadSetNameParams) -> None:
    name = p.name.strip()
    if not name:
        raise _invalid("thread name must not be empty")
    ctx.server.manager.set_name(p.thread_id, name)
    await ctx.respond(EmptyResponse())
    await ctx.server.emit(ThreadNameUpdated(thread_id=p.thread_id, thread_name=name))


@_errors
async def thread_unsubscribe(ctx: RequestContext, p: ThreadIdParams) -> None:
    """This client stops following the thread; when no other client follows it, it is
    unloaded and its resources closed (one client, stdio: always)."""
    was_subscribed = p.thread_id in ctx.connection.subscriptions
    ctx.connection.subscriptions.discard(p.thread_id)
    if p.thread_id in ctx.server.manager.threads and subscribed_elsewhere(
        ctx.server.connections, p.thread_id, ctx.connection
    ):
        await ctx.respond(ThreadUnsubscribeResponse(status="unsubscribed" if was_subscribed else "notSubscribed"))
        return
    unloaded = await ctx.server.manager.unload_thread(p.thread_id)
    await ctx.respond(ThreadUnsubscribeResponse(status="unsubscribed" if unloaded else "notLoaded"))
    if unloaded:
        await ctx.server.emit(ThreadClosed(thread_id=p.thread_id))


async def thread_loaded_list(ctx: RequestContext, p: ThreadLoadedListParams) -> ThreadLoadedListResponse:
    ids = sorted(ctx.server.manager.threads)
    offset = 0
    if p.cursor:
        try:
            offset = int(p.cursor)
        except ValueError:
            raise _invalid(f"invalid cursor: {p.cursor}") from None
    limit = p.limit if p.limit else len(ids)
    more = offset + limit < len(ids)
    return ThreadLoadedListResponse(
        data=ids[offset : offset + limit], next_cursor=str(offset + limit) if more else None
    )


def register(table: MethodTable, services: AppServices) -> None:
    from pydantic.alias_generators import to_camel

    from rootstep.app_server.methods import global_scope

    table.add(
        "thread/start", thread_start, ThreadStartParams, params_required=False,
        experimental_fields=tuple(to_camel(f) for f in EXPERIMENTAL_THREAD_START_FIELDS),
    )
    table.add("thread/resume", thread_resume, ThreadResumeParams, scope=thread_scope("resume"))
    table.add("thread/fork", thread_fork, ThreadForkParams)
    table.add("thread/read", thread_read, ThreadReadParams)
    table.add("thread/list", thread_list, ThreadListParams, params_required=False)
    # Archive/unarchive/name move or append to rollout files: one at a time.
    table.add("thread/archive", thread_archive, ThreadIdParams, scope=global_scope("rollouts"))
    table.add("thread/unarchive", thread_unarchive, ThreadIdParams, scope=global_scope("rollouts"))
    table.add("thread/name/set", thread_set_name, ThreadSetNameParams, scope=thread_scope())
    table.add("thread/unsubscribe", thread_unsubscribe, ThreadIdParams, scope=thread_scope("resume"))
    table.add("thread/loaded/list", thread_loaded_list, ThreadLoadedListParams, params_required=False)
