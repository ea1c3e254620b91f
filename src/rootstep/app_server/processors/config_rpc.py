"""config/read, configRequirements/read, config/value/write and config/batchWrite.

``config/read`` reports the effective configuration (the user's ``config.toml`` with the
server's ``-c`` overrides), where each key comes from (``origins``) and, on request, the layers.
Writes edit the user's ``config.toml`` (comments kept, atomic, mode kept) and reload the
server's configuration, so threads started afterwards use the new values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import global_scope
from rootstep.config.edit import ConfigEditError, Edit, edit_config_file, layer_version, read_plain
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.config_rpc import (
    ConfigBatchWriteParams,
    ConfigLayer,
    ConfigReadParams,
    ConfigReadResponse,
    ConfigRequirementsReadResponse,
    ConfigValueWriteParams,
    ConfigWriteResponse,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices

# Typed keys of the reference's ``Config`` that clients read; absent ones are reported as null.
_NULL_KEYS = (
    "model", "review_model", "model_context_window", "model_auto_compact_token_limit", "model_provider",
    "approval_policy", "approvals_reviewer", "sandbox_mode", "sandbox_workspace_write",
    "forced_chatgpt_workspace_id", "forced_login_method", "web_search", "tools", "instructions",
    "developer_instructions", "compact_prompt", "model_reasoning_effort", "model_reasoning_summary",
    "model_verbosity", "service_tier", "analytics", "apps", "profile", "tui", "notify",
)


def leaf_paths(doc: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every non-table value in ``doc`` (origins are per leaf). Pure."""
    if not isinstance(doc, dict):
        return [prefix] if prefix else []
    out: list[str] = []
    for key, value in doc.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        out += leaf_paths(value, path) if isinstance(value, dict) and value else [path]
    return out


def user_config_path(server: AppServer) -> Path:
    return Path(server.config.home) / "config.toml"


async def config_read(ctx: RequestContext, p: ConfigReadParams) -> ConfigReadResponse:
    server = ctx.server
    path = user_config_path(server)
    try:
        user = read_plain(path)
    except ConfigEditError:
        user = {}
    user_source = {"type": "user", "file": str(path), "profile": None}
    user_meta = {"name": user_source, "version": layer_version(user)}
    origins = {key: user_meta for key in leaf_paths(user)}
    layers = [ConfigLayer(name=user_source, version=user_meta["version"], config=user)]
    if server.overrides:
        from rootstep.config.overrides import apply_overrides

        flags = apply_overrides({}, server.overrides)
        flag_meta = {"name": {"type": "sessionFlags"}, "version": layer_version(flags)}
        origins.update({key: flag_meta for key in leaf_paths(flags)})
        layers.insert(0, ConfigLayer(name=flag_meta["name"], version=flag_meta["version"], config=flags))
    config: dict[str, Any] = {key: None for key in _NULL_KEYS}
    config.update(server.config.raw)
    config.setdefault("mcp_servers", {})
    config.setdefault("features", {})
    return ConfigReadResponse(config=config, origins=origins, layers=layers if p.include_layers else None)


async def config_requirements_read(ctx: RequestContext, p: object) -> ConfigRequirementsReadResponse:
    return ConfigRequirementsReadResponse()


def _target(server: AppServer, file_path: str | None) -> Path:
    path = user_config_path(server)
    if file_path is not None and Path(file_path).expanduser().resolve() != path.resolve():
        raise JsonRpcError(INVALID_REQUEST, f"Only writes to the user config are allowed: {file_path}")
    return path


def reload_config(server: AppServer) -> None:
    """New threads (and config/read) see the file as written; running threads keep theirs."""
    from rootstep.config import load_config

    try:
        config = load_config(server.config.home, server.overrides)
    except ValueError:
        return  # a file the server cannot use stays the client's problem; keep serving
    server.manager.config = config


async def _write(
    ctx: RequestContext, edits: list[Edit], file_path: str | None, expected: str | None
) -> ConfigWriteResponse:
    path = _target(ctx.server, file_path)
    try:
        version = await anyio.to_thread.run_sync(edit_config_file, path, edits, expected)
    except ConfigEditError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    reload_config(ctx.server)
    return ConfigWriteResponse(version=version, file_path=str(path))


async def config_value_write(ctx: RequestContext, p: ConfigValueWriteParams) -> ConfigWriteResponse:
    return await _write(ctx, [Edit(p.key_path, p.value, p.merge_strategy)], p.file_path, p.expected_version)


async def config_batch_write(ctx: RequestContext, p: ConfigBatchWriteParams) -> ConfigWriteResponse:
    edits = [Edit(e.key_path, e.value, e.merge_strategy) for e in p.edits]
    return await _write(ctx, edits, p.file_path, p.expected_version)


def register(table: MethodTable, services: AppServices) -> None:
    table.add("config/read", config_read, ConfigReadParams, params_required=False)
    table.add("configRequirements/read", config_requirements_read, None)
    table.add("config/value/write", config_value_write, ConfigValueWriteParams, scope=global_scope("config-file"))
    table.add("config/batchWrite", config_batch_write, ConfigBatchWriteParams, scope=global_scope("config-file"))
