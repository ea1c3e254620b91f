"""The sandbox policy: its 0.169 wire shapes, the config keys that produce it, and what it means
for one command (which folders are writable, which stay read-only inside them, the network).

Wire (``thread/start.sandbox`` result, ``turn/start.sandboxPolicy``, ``command/exec.sandboxPolicy``,
exec-server ``process/start.sandbox``): a tagged object — ``readOnly{networkAccess}``,
``workspaceWrite{writableRoots, networkAccess, excludeTmpdirEnvVar, excludeSlashTmp}``,
``dangerFullAccess``, ``externalSandbox{networkAccess: "restricted"|"enabled"}``.

Config: ``sandbox_mode = "read-only" | "workspace-write" | "danger-full-access"`` and, for
workspace-write only, the ``[sandbox_workspace_write]`` table (``writable_roots``,
``network_access``, ``exclude_tmpdir_env_var``, ``exclude_slash_tmp``).

:func:`resolve_permissions` turns a policy and a cwd into a :class:`SandboxPermissions` — the
same facts 0.169 writes into ``<environment_context>``: read everything; write the cwd, the
writable roots, ``/tmp`` and ``$TMPDIR`` unless excluded; keep ``.git``, ``.agents``, ``.codex``
and ``.aws`` directly under each writable workspace root read-only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
SANDBOX_MODES: tuple[str, ...] = ("read-only", "workspace-write", "danger-full-access")

# Top-level names kept read-only under every writable workspace root, in 0.169's order.
PROTECTED_METADATA_NAMES: tuple[str, ...] = (".git", ".agents", ".codex", ".aws")


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ReadOnlyPolicy(_Wire):
    type: Literal["readOnly"] = "readOnly"
    network_access: bool = False


class WorkspaceWritePolicy(_Wire):
    type: Literal["workspaceWrite"] = "workspaceWrite"
    writable_roots: tuple[str, ...] = ()
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False


class DangerFullAccessPolicy(_Wire):
    type: Literal["dangerFullAccess"] = "dangerFullAccess"


class ExternalSandboxPolicy(_Wire):
    """The caller already runs inside a sandbox: commands run as they are."""

    type: Literal["externalSandbox"] = "externalSandbox"
    network_access: Literal["restricted", "enabled"] = "restricted"


SandboxPolicy = Annotated[
    ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy | ExternalSandboxPolicy,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(SandboxPolicy)


class SandboxPolicyError(ValueError):
    """A policy or config value that does not describe a sandbox."""


def parse_sandbox_policy(
    raw: Any,
) -> ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy | ExternalSandboxPolicy:
    """A wire object (or a ``SandboxMode`` string, as ``thread/start.sandbox`` carries it)."""
    if isinstance(raw, str):
        return policy_from_mode(raw)
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        policy: ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy | ExternalSandboxPolicy = (
            _ADAPTER.validate_python(raw)
        )
        return policy
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SandboxPolicyError(f"invalid sandbox policy{f' at `{where}`' if where else ''}: {first['msg']}") from None


def policy_from_mode(
    mode: str, workspace_write: dict[str, Any] | None = None
) -> ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy:
    """``sandbox_mode`` (+ the ``[sandbox_workspace_write]`` table, which only workspace-write reads)."""
    if mode == "read-only":
        return ReadOnlyPolicy()
    if mode == "danger-full-access":
        return DangerFullAccessPolicy()
    if mode == "workspace-write":
        table = workspace_write or {}
        roots = table.get("writable_roots", [])
        if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
            raise SandboxPolicyError("`sandbox_workspace_write.writable_roots` must be an array of paths")
        for root in roots:
            if not os.path.isabs(root):
                raise SandboxPolicyError(
                    f"`sandbox_workspace_write.writable_roots` entry {root!r} is not an absolute path"
                )
        flags = {}
        for key in ("network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp"):
            value = table.get(key, False)
            if not isinstance(value, bool):
                raise SandboxPolicyError(f"`sandbox_workspace_write.{key}` must be true or false")
            flags[key] = value
        return WorkspaceWritePolicy(writable_roots=tuple(roots), **flags)
    raise SandboxPolicyError(f"unknown sandbox_mode {mode!r} (expected one of: {', '.join(SANDBOX_MODES)})")


def policy_from_config(
    doc: dict[str, Any], *, default_mode: str = "read-only"
) -> ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy:
    """The policy a parsed ``config.toml`` document asks for."""
    mode = doc.get("sandbox_mode", default_mode)
    table = doc.get("sandbox_workspace_write")
    if table is not None and not isinstance(table, dict):
        raise SandboxPolicyError("`sandbox_workspace_write` must be a table")
    return policy_from_mode(mode, table)


def mode_of(policy: Any) -> str:
    """The ``sandbox_mode`` name 0.169 uses in the permissions text for this policy."""
    kind = policy.type
    if kind == "readOnly":
        return "read-only"
    if kind == "workspaceWrite":
        return "workspace-write"
    return "danger-full-access"


def network_enabled(policy: Any) -> bool:
    if isinstance(policy, DangerFullAccessPolicy):
        return True
    if isinstance(policy, ExternalSandboxPolicy):
        return policy.network_access == "enabled"
    return bool(policy.network_access)


# --- what a policy means for one command --------------------------------------------------------


@dataclass(frozen=True)
class WritableRoot:
    """A folder the command may write, minus the protected paths under it (kept read-only)."""

    root: str
    read_only_subpaths: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxPermissions:
    """The resolved permissions of one command: ``unrestricted`` means no sandbox at all."""

    unrestricted: bool
    writable_roots: tuple[WritableRoot, ...] = ()
    network: bool = False
    # Workspace roots (cwd first, then configured writable roots) as 0.169 lists them.
    workspace_roots: tuple[str, ...] = ()
    slash_tmp: bool = False
    tmpdir: str | None = None

    @property
    def read_only(self) -> bool:
        return not self.unrestricted and not self.writable_roots


def resolve_permissions(policy: Any, cwd: str, env: dict[str, str] | None = None) -> SandboxPermissions:
    """Pure: the permissions of a command run under ``policy`` from ``cwd``.

    ``env`` supplies ``TMPDIR`` (the environment the command will see). The read-only carve-outs
    are listed whether or not they exist yet, as 0.169 lists them; enforcement protects the ones
    that exist (see :mod:`rootstep.sandbox.bwrap`).
    """
    cwd = os.path.normpath(cwd)
    if isinstance(policy, (DangerFullAccessPolicy, ExternalSandboxPolicy)):
        return SandboxPermissions(unrestricted=True, network=network_enabled(policy), workspace_roots=(cwd,))
    if isinstance(policy, ReadOnlyPolicy):
        return SandboxPermissions(unrestricted=False, network=policy.network_access, workspace_roots=(cwd,))
    assert isinstance(policy, WorkspaceWritePolicy)
    workspace = [cwd]
    for root in policy.writable_roots:
        root = os.path.normpath(root)
        if root not in workspace:
            workspace.append(root)
    roots = [WritableRoot(r, tuple(os.path.join(r, n) for n in PROTECTED_METADATA_NAMES)) for r in workspace]
    tmpdir = None
    if not policy.exclude_slash_tmp and os.path.isabs("/tmp"):
        roots.append(WritableRoot("/tmp"))
    if not policy.exclude_tmpdir_env_var:
        value = (env if env is not None else os.environ).get("TMPDIR")
        if value and os.path.isabs(value):
            tmpdir = os.path.normpath(value)
            if all(tmpdir != r.root for r in roots):
                roots.append(WritableRoot(tmpdir))
    return SandboxPermissions(
        unrestricted=False, writable_roots=tuple(roots), network=policy.network_access,
        workspace_roots=tuple(workspace), slash_tmp=not policy.exclude_slash_tmp, tmpdir=tmpdir,
    )
