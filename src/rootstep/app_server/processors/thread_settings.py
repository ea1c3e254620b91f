"""thread/settings/update (+ ``thread/settings/updated``) and thread/readState/update (+
``thread/readState/changed``).

Settings changes apply to the thread's next model request and persist in its rollout, as a
``turn/start`` override does; ``/model`` and ``/permissions`` in the TUI come this way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.core.manager import ThreadError
from rootstep.core.read_state import ReadStateError, apply_operation
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.thread import EmptyResponse, SandboxPolicy
from rootstep.protocol.thread_settings import (
    CollaborationMode,
    CollaborationModeSettings,
    ThreadReadStateChanged,
    ThreadReadStateResponse,
    ThreadReadStateUpdateParams,
    ThreadSettings,
    ThreadSettingsUpdated,
    ThreadSettingsUpdateParams,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices
    from rootstep.core.thread import Thread

SANDBOX_OF_POLICY = {
    "dangerFullAccess": "danger-full-access",
    "workspaceWrite": "workspace-write",
    "readOnly": "read-only",
    "externalSandbox": "danger-full-access",
}
SANDBOX_OF_PROFILE = {
    ":read-only": "read-only",
    ":workspace": "workspace-write",
    ":danger-full-access": "danger-full-access",
}


def sandbox_wire(thread: Thread) -> SandboxPolicy:
    """The sandbox in force, as responses echo it (``[sandbox_workspace_write]`` included)."""
    from rootstep.agent_tools.settings import sandbox_policy

    s = thread.settings
    return SandboxPolicy.model_validate(sandbox_policy(s.sandbox_mode, s.sandbox_policy, thread.config.raw).wire())


def thread_settings(thread: Thread) -> ThreadSettings:
    """The thread's settings as the wire shows them."""
    s = thread.settings
    mode = thread.collaboration
    return ThreadSettings(
        cwd=s.cwd,
        environments=list(thread.environments or []),
        approval_policy=s.approval_policy,
        approvals_reviewer=s.approvals_reviewer,
        sandbox_policy=sandbox_wire(thread),
        active_permission_profile=thread.permission_profile,
        model=s.model,
        model_provider=s.model_provider_id,
        service_tier=s.service_tier,
        effort=s.effort,
        summary=s.summary,
        collaboration_mode=CollaborationMode(
            mode=mode.get("mode", "default"),
            settings=CollaborationModeSettings(
                model=s.model, reasoning_effort=s.effort, developer_instructions=mode.get("developer_instructions")
            ),
        ),
    )


def sandbox_mode_of(sandbox_policy: dict[str, Any] | None, permissions: Any) -> str | None:
    """The sandbox mode a ``sandboxPolicy`` object or a ``permissions`` profile id selects. Pure."""
    if sandbox_policy is not None and permissions is not None:
        raise JsonRpcError(INVALID_REQUEST, "`permissions` cannot be combined with `sandboxPolicy`")
    if isinstance(sandbox_policy, dict):
        return SANDBOX_OF_POLICY.get(str(sandbox_policy.get("type")))
    if isinstance(permissions, str):
        if permissions not in SANDBOX_OF_PROFILE:
            raise JsonRpcError(INVALID_REQUEST, f"unknown permissions profile: {permissions}")
        return SANDBOX_OF_PROFILE[permissions]
    return None


async def emit_settings(server: AppServer, thread: Thread) -> None:
    await server.emit(ThreadSettingsUpdated(thread_id=thread.id, thread_settings=thread_settings(thread)))


def apply_collaboration_mode(thread: Thread, mode: dict[str, Any] | None) -> dict[str, Any]:
    """Store a collaborationMode; returns its model/effort settings (fallbacks for the caller)."""
    if not isinstance(mode, dict):
        return {}
    raw_settings = mode.get("settings")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    chosen = {"mode": str(mode.get("mode") or "default"),
              "developer_instructions": settings.get("developer_instructions")}
    if chosen != thread.collaboration:
        thread.collaboration = chosen
        thread.record("settings", {"collaboration_mode": chosen})
    return settings


async def settings_update(ctx: RequestContext, p: ThreadSettingsUpdateParams) -> None:
    manager = ctx.server.manager
    thread = manager.threads.get(p.thread_id)
    if thread is None:
        raise JsonRpcError(INVALID_REQUEST, f"thread not found: {p.thread_id}")
    sandbox = sandbox_mode_of(p.sandbox_policy, p.permissions)
    mode_settings = apply_collaboration_mode(thread, p.collaboration_mode)
    settings = thread.settings.evolve(
        model=p.model or mode_settings.get("model"),
        effort=p.effort or mode_settings.get("reasoning_effort"),
        summary=p.summary,
        cwd=p.cwd,
        approval_policy=p.approval_policy,
        approvals_reviewer=p.approvals_reviewer,
        sandbox_mode=sandbox,
        service_tier=p.service_tier,
    )
    if settings != thread.settings:
        thread.settings = settings
        thread.record("settings", settings.to_meta())
    if sandbox is not None:
        profile = {"id": p.permissions, "extends": None} if isinstance(p.permissions, str) else None
        if profile != thread.permission_profile:
            thread.permission_profile = profile
            thread.record("settings", {"permission_profile": profile})
    if p.environments is not None:
        try:
            manager.set_environments(thread, p.environments)
        except ThreadError as exc:
            raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    await ctx.respond(EmptyResponse())
    await emit_settings(ctx.server, thread)


async def read_state_update(ctx: RequestContext, p: ThreadReadStateUpdateParams) -> None:
    thread = ctx.server.manager.threads.get(p.thread_id)
    state = thread.read_state if thread is not None else None
    if thread is None:
        state = stored_read_state(ctx.server, p.thread_id)
    try:
        new = apply_operation(state, p.operation.type, p.expected_revision)
    except ReadStateError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    if thread is not None:
        thread.read_state = new
        thread.record("settings", {"read_state": new})
    else:
        persist_read_state(ctx.server, p.thread_id, new)
    await ctx.server.emit(ThreadReadStateChanged(thread_id=p.thread_id, read_state=new))
    await ctx.respond(ThreadReadStateResponse(read_state=new))


def stored_read_state(server: AppServer, thread_id: str, path: str | None = None) -> dict[str, Any] | None:
    """The read state persisted in a thread's rollout (found by id unless ``path`` is known)."""
    from pathlib import Path

    from rootstep.core.read_state import restored
    from rootstep.core.rollout import find_rollout, summarize_rollout

    rollout = Path(path) if path else find_rollout(thread_id, server.config.sessions_dir)
    contents = summarize_rollout(rollout) if rollout is not None else None
    return restored(contents.meta) if contents is not None else None


def persist_read_state(server: AppServer, thread_id: str, state: dict[str, Any]) -> None:
    from rootstep.core.rollout import RolloutWriter, find_rollout

    path = find_rollout(thread_id, server.config.sessions_dir)
    if path is None:
        return
    writer = RolloutWriter(path)
    try:
        writer.append("settings", {"read_state": state})
    finally:
        writer.close()


def register(table: MethodTable, services: AppServices) -> None:
    table.add("thread/settings/update", settings_update, ThreadSettingsUpdateParams, scope=thread_scope("settings"))
    table.add("thread/readState/update", read_state_update, ThreadReadStateUpdateParams,
              scope=thread_scope("read-state"))
