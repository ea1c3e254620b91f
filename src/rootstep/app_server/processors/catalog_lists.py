"""Lists the TUI reads at start: hooks/list, collaborationMode/list, experimentalFeature/list,
permissionProfile/list and plugin/installed.

rootstep runs no lifecycle hooks and has no plugin marketplaces, so those lists are empty (per
cwd for hooks, as codex 0.169 answers when none are configured). The collaboration modes and
the built-in permission profiles are the reference's presets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootstep.app_server.context import RequestContext
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params, WireModel

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices


class HooksListParams(Params):
    cwds: list[str] | None = None
    thread_id: str | None = None


class PagedParams(Params):
    cursor: str | None = None
    limit: int | None = None
    thread_id: str | None = None
    cwd: str | None = None


class PluginInstalledParams(Params):
    cwds: list[str] | None = None
    install_suggestion_plugin_names: list[str] | None = None


class DataResponse(WireModel):
    data: list[Any]


class PagedResponse(WireModel):
    data: list[Any]
    next_cursor: str | None = None


class PluginInstalledResponse(WireModel):
    marketplaces: list[Any]
    marketplace_load_errors: list[Any]


COLLABORATION_MODES = [
    {"name": "Plan", "mode": "plan", "model": None, "reasoning_effort": "medium"},
    {"name": "Default", "mode": "default", "model": None, "reasoning_effort": None},
]

PERMISSION_PROFILES = [":read-only", ":workspace", ":danger-full-access"]

# (name, stage, enabled by default, display name, description) of the features rootstep honours.
FEATURES: list[tuple[str, str, bool, str | None, str | None]] = [
    ("apps", "stable", True, None, None),
    ("shell_tool", "stable", True, None, None),
    ("unified_exec", "stable", True, None, None),
    ("goals", "stable", True, None, None),
]


def page(items: list[Any], cursor: str | None, limit: int | None) -> tuple[list[Any], str | None]:
    """An offset page of ``items``; the cursor is the offset as text. Pure."""
    try:
        offset = int(cursor) if cursor else 0
        if offset < 0:
            raise ValueError
    except ValueError:
        raise JsonRpcError(INVALID_REQUEST, f"invalid cursor: {cursor}") from None
    size = limit if limit and limit > 0 else len(items)
    chunk = items[offset : offset + size]
    return chunk, str(offset + size) if offset + size < len(items) else None


async def hooks_list(ctx: RequestContext, p: HooksListParams) -> DataResponse:
    cwds = list(p.cwds or [])
    if p.thread_id:
        thread = ctx.server.manager.threads.get(p.thread_id)
        if thread is None:
            raise JsonRpcError(INVALID_REQUEST, f"thread not found: {p.thread_id}")
        cwds = [thread.settings.cwd]
    if not cwds:
        import os

        cwds = [os.getcwd()]
    return DataResponse(data=[{"cwd": cwd, "hooks": [], "warnings": [], "errors": []} for cwd in cwds])


async def collaboration_mode_list(ctx: RequestContext, p: object) -> DataResponse:
    return DataResponse(data=COLLABORATION_MODES)


async def experimental_feature_list(ctx: RequestContext, p: PagedParams) -> PagedResponse:
    config = ctx.server.config
    if p.thread_id and p.thread_id in ctx.server.manager.threads:
        config = ctx.server.manager.threads[p.thread_id].config
    configured = config.features
    items = [
        {"name": name, "stage": stage, "displayName": display, "description": description, "announcement": None,
         "enabled": configured.get(name, default), "defaultEnabled": default}
        for name, stage, default, display, description in FEATURES
    ]
    data, next_cursor = page(items, p.cursor, p.limit)
    return PagedResponse(data=data, next_cursor=next_cursor)


async def permission_profile_list(ctx: RequestContext, p: PagedParams) -> PagedResponse:
    items = [{"id": name, "description": None, "allowed": True} for name in PERMISSION_PROFILES]
    data, next_cursor = page(items, p.cursor, p.limit)
    return PagedResponse(data=data, next_cursor=next_cursor)


async def plugin_installed(ctx: RequestContext, p: PluginInstalledParams) -> PluginInstalledResponse:
    return PluginInstalledResponse(marketplaces=[], marketplace_load_errors=[])


def register(table: MethodTable, services: AppServices) -> None:
    table.add("hooks/list", hooks_list, HooksListParams, params_required=False)
    table.add("collaborationMode/list", collaboration_mode_list, None, experimental=True)
    table.add("experimentalFeature/list", experimental_feature_list, PagedParams, params_required=False)
    table.add("permissionProfile/list", permission_profile_list, PagedParams, params_required=False)
    table.add("plugin/installed", plugin_installed, PluginInstalledParams, params_required=False)
