"""``skills/list`` and ``app/list``: what the host offers, independent of any selected root.

``skills/list`` (spec §2.9) is cwd-based like Codex's ``catalog_processor``: for each cwd it
lists the host skills (:mod:`rootstep.plugins.host_skills`); selected capability roots never
contribute, their skills are model-visible only. A broken SKILL.md is an ``errors`` entry, never
a failed request. Scans are cached per cwd (``forceReload`` rescans); ``enabled`` is decided from
the latest ``[[skills.config]]`` rules at every request, so toggling a skill needs no rescan.

``app/list`` (spec §2.8) answers ``{data: [], nextCursor: null}`` unless the ``apps`` feature
(default on; a ``threadId`` selects that thread's flag) is on *and* ``auth.json`` holds ChatGPT
tokens — the reference's ``apps_enabled_for_auth`` gate. The hosted connector directory behind
that gate is not fetched yet: past the gate the request fails with
:data:`HOSTED_DIRECTORY_UNSUPPORTED` (see :func:`app_list`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from rootstep.app_server.context import RequestContext
from rootstep.config.config import Config
from rootstep.core.ids import is_uuid
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.catalog import (
    AppsListParams,
    AppsListResponse,
    SkillErrorInfo,
    SkillsListEntry,
    SkillsListParams,
    SkillsListResponse,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices
    from rootstep.plugins.host_skills import SkillsCatalog

log = logging.getLogger(__name__)

HOSTED_DIRECTORY_UNSUPPORTED = "failed to list apps: the hosted app directory is not supported by rootstep yet"

def _user_home() -> Path | None:
    value = os.environ.get("HOME")
    return Path(os.path.realpath(value)) if value else None


class HostSkills:
    """``skills/list``: the server's scan cache, made at the first request (the scanner, with
    its YAML parser, loads then too)."""

    def __init__(self, codex_home: Path) -> None:
        self._codex_home = codex_home
        self._catalog: SkillsCatalog | None = None

    def catalog(self) -> SkillsCatalog:
        if self._catalog is None:
            from rootstep.plugins.host_skills import SkillsCatalog

            self._catalog = SkillsCatalog(self._codex_home, _user_home())
        return self._catalog

    async def list(self, ctx: RequestContext, p: SkillsListParams) -> SkillsListResponse:
        return await skills_list(ctx, p, self.catalog())


def _latest_config(server: AppServer) -> Config:
    """config.toml as it is now (the reference reloads it per request)."""
    from rootstep.config.config import ConfigError, load_config
    from rootstep.config.overrides import OverrideError

    try:
        return load_config(server.config.home, server.overrides)
    except (ConfigError, OverrideError) as exc:
        raise JsonRpcError(INTERNAL_ERROR, f"failed to reload config: {exc}") from None


async def skills_list(ctx: RequestContext, p: SkillsListParams, catalog: SkillsCatalog) -> SkillsListResponse:
    from rootstep.plugins.host_skills import disabled_paths, to_wire

    raw = _latest_config(ctx.server).raw
    cwds = p.cwds or [os.getcwd()]
    entries = []
    for cwd in cwds:
        try:
            resolved = Path(os.path.realpath(os.path.join(os.getcwd(), os.path.expanduser(cwd))))
        except (OSError, ValueError) as exc:  # e.g. a NUL byte: this cwd's error, not the request's
            entries.append(SkillsListEntry(cwd=cwd, skills=[], errors=[SkillErrorInfo(path=cwd, message=str(exc))]))
            continue
        outcome = await anyio.to_thread.run_sync(catalog.scan, resolved, p.force_reload)
        disabled = disabled_paths(outcome.skills, raw)
        entries.append(SkillsListEntry(
            cwd=cwd, skills=[to_wire(s, disabled) for s in outcome.skills], errors=list(outcome.errors),
        ))
    return SkillsListResponse(data=entries)


# --- app/list ------------------------------------------------------------------------------------


async def app_list(ctx: RequestContext, p: AppsListParams) -> AppsListResponse:
    """The reference's gate: ``apps`` feature on and ChatGPT auth, else an empty list.

    Behind the gate the reference merges the hosted connector directory
    (``<chatgpt_base_url>/connectors/directory/list``) with the connectors the ``codex_apps``
    MCP server exposes; rootstep does not fetch them yet and answers an internal error, as the
    reference does when it cannot reach the directory.
    """
    from rootstep.extensions.connectors import read_auth

    server = ctx.server
    if p.thread_id is not None:
        if not is_uuid(p.thread_id):
            raise JsonRpcError(INVALID_REQUEST, f"invalid thread id: {p.thread_id}")
        try:
            thread = server.manager.loaded(p.thread_id)
        except ThreadError:
            raise JsonRpcError(INVALID_REQUEST, f"thread not found: {p.thread_id}") from None
        enabled = thread.config.features.enabled("apps")
    else:
        enabled = _latest_config(server).features.enabled("apps")
    if not enabled or read_auth(server.config.home) is None:
        return AppsListResponse(data=[], next_cursor=None)
    if p.cursor is not None:
        try:
            int(p.cursor)
        except ValueError:
            raise JsonRpcError(INVALID_REQUEST, f"invalid cursor: {p.cursor}") from None
    # Where the reference would now fetch the directory (and fail with "failed to list apps: …"
    # when it cannot), say plainly that rootstep does not: an empty list would claim "no apps".
    raise JsonRpcError(INTERNAL_ERROR, HOSTED_DIRECTORY_UNSUPPORTED)


def register(table: MethodTable, services: AppServices) -> None:
    table.add("skills/list", HostSkills(services.config.home).list, SkillsListParams)
    table.add("app/list", app_list, AppsListParams, params_required=False)
