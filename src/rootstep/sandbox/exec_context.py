"""The exec-server's ``sandbox`` field (0.169's ``FileSystemSandboxContext``) ⇄ our policy.

0.169 sends, in ``process/start.sandbox``::

    {"permissions": {"type": "managed",
                     "file_system": {"type": "restricted", "entries": [
                         {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"},
                         {"path": {"type": "special", "value": {"kind": "project_roots"}}, "access": "write"},
                         {"path": {"type": "special", "value": {"kind": "slash_tmp"}}, "access": "write"},
                         {"path": {"type": "special", "value": {"kind": "tmpdir"}}, "access": "write"},
                         {"path": {"type": "special", "value": {"kind": "project_roots", "subpath": ".git"}},
                          "access": "read", "missing_path_behavior": "skip"}, ...]},
                     "network": "restricted"},
     "cwd": "file:///…", "workspaceRoots": ["file:///…"], "windowsSandboxLevel": "disabled",
     "windowsSandboxProxySettingsMode": "reconcile", "useLegacyLandlock": false}

:func:`context_from_policy` builds that object from a policy (what we send to an executor);
:func:`permissions_from_context` turns a received one into :class:`SandboxPermissions` for the
executor's own enforcement, or raises :class:`UnenforceableSandbox` for what bubblewrap cannot do
(denied reads, reads narrower than the whole disk).
"""

from __future__ import annotations

import os
from typing import Any

from rootstep.sandbox.policy import (
    PROTECTED_METADATA_NAMES,
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    ReadOnlyPolicy,
    SandboxPermissions,
    WorkspaceWritePolicy,
    WritableRoot,
)


class UnenforceableSandbox(ValueError):
    """A sandbox context this executor cannot enforce faithfully."""


def _special(kind: str, subpath: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"kind": kind}
    if subpath is not None:
        value["subpath"] = subpath
    return {"type": "special", "value": value}


def _uri(path: str) -> str:
    from rootstep.protocol.exec_server import path_to_uri

    return path_to_uri(path)


def _path(uri_or_path: str) -> str:
    from rootstep.protocol.exec_server import uri_to_path

    return uri_to_path(uri_or_path) if uri_or_path.startswith("file:") else uri_or_path


def context_from_policy(policy: Any, cwd: str) -> dict[str, Any] | None:
    """Pure: the ``sandbox`` value for ``process/start`` of a command under ``policy`` (None when
    the command runs unsandboxed: full access or an external sandbox)."""
    if isinstance(policy, (DangerFullAccessPolicy, ExternalSandboxPolicy)):
        return None
    entries: list[dict[str, Any]] = [{"path": _special("root"), "access": "read"}]
    roots = [cwd]
    if isinstance(policy, WorkspaceWritePolicy):
        entries.append({"path": _special("project_roots"), "access": "write"})
        if not policy.exclude_slash_tmp:
            entries.append({"path": _special("slash_tmp"), "access": "write"})
        if not policy.exclude_tmpdir_env_var:
            entries.append({"path": _special("tmpdir"), "access": "write"})
        for root in policy.writable_roots:
            entries.append({"path": {"type": "path", "path": root}, "access": "write"})
            if root not in roots:
                roots.append(root)
        for name in PROTECTED_METADATA_NAMES:
            entries.append({"path": _special("project_roots", name), "access": "read", "missing_path_behavior": "skip"})
    network = "enabled" if policy.network_access else "restricted"
    return {
        "permissions": {
            "type": "managed", "file_system": {"type": "restricted", "entries": entries}, "network": network
        },
        "cwd": _uri(cwd),
        "workspaceRoots": [_uri(r) for r in roots],
        "windowsSandboxLevel": "disabled",
        "windowsSandboxProxySettingsMode": "reconcile",
        "useLegacyLandlock": False,
    }


def permissions_from_context(context: Any, *, cwd: str, env: dict[str, str]) -> SandboxPermissions:
    """The permissions a received sandbox context grants; ``env`` is the child's environment
    (its ``TMPDIR``). Raises :class:`UnenforceableSandbox` for what cannot be enforced."""
    if not isinstance(context, dict):
        raise UnenforceableSandbox("sandbox must be an object")
    perms = context.get("permissions")
    if not isinstance(perms, dict):
        raise UnenforceableSandbox("sandbox.permissions must be an object")
    kind = perms.get("type")
    network = perms.get("network", "restricted") == "enabled"
    cwd = _path(context["cwd"]) if isinstance(context.get("cwd"), str) else cwd
    if kind in ("disabled", "external"):
        return SandboxPermissions(
            unrestricted=True, network=True if kind == "disabled" else network, workspace_roots=(cwd,)
        )
    if kind != "managed":
        raise UnenforceableSandbox(f"unsupported permission profile type {kind!r}")
    fs = perms.get("file_system") or {}
    if fs.get("type") == "unrestricted":
        if network:
            return SandboxPermissions(unrestricted=True, network=True, workspace_roots=(cwd,))
        return SandboxPermissions(
            unrestricted=False, writable_roots=(WritableRoot("/"),), network=False, workspace_roots=(cwd,)
        )
    if fs.get("type") != "restricted":
        raise UnenforceableSandbox(f"unsupported file_system type {fs.get('type')!r}")
    workspace = [_path(r) for r in context.get("workspaceRoots") or [] if isinstance(r, str)] or [cwd]
    writable: list[str] = []
    read_only: list[str] = []
    reads_root = False
    for entry in fs.get("entries") or []:
        access = entry.get("access")
        targets = _entry_paths(entry.get("path") or {}, workspace, env)
        if targets is None:
            reads_root = reads_root or access in ("read", "write")
            if access == "write":
                writable.append("/")
            elif access == "deny":
                raise UnenforceableSandbox("denying the whole filesystem cannot be enforced")
            continue
        if access == "write":
            writable += targets
        elif access == "read":
            read_only += targets
        elif access == "deny":
            raise UnenforceableSandbox("denied read paths cannot be enforced on this executor")
    if not reads_root:
        raise UnenforceableSandbox("restricted read access cannot be enforced on this executor")
    roots = []
    for root in dict.fromkeys(os.path.normpath(w) for w in writable):
        subs = tuple(p for p in read_only if p != root and (p + "/").startswith(root.rstrip("/") + "/"))
        roots.append(WritableRoot(root, subs))
    return SandboxPermissions(
        unrestricted=False, writable_roots=tuple(roots), network=network, workspace_roots=tuple(workspace)
    )


def _entry_paths(path: dict[str, Any], workspace: list[str], env: dict[str, str]) -> list[str] | None:
    """The concrete paths of one entry; None for the filesystem root."""
    if path.get("type") == "path":
        return [os.path.normpath(_path(str(path.get("path"))))]
    if path.get("type") == "special":
        value = path.get("value") or {}
        kind = value.get("kind")
        if kind == "root":
            return None
        if kind == "project_roots":
            sub = value.get("subpath")
            return [os.path.join(r, sub) if sub else r for r in workspace]
        if kind == "slash_tmp":
            return ["/tmp"]
        if kind == "tmpdir":
            tmp = env.get("TMPDIR")
            return [os.path.normpath(tmp)] if tmp and os.path.isabs(tmp) else []
        if kind == "minimal":
            return []
    raise UnenforceableSandbox(f"unsupported sandbox path entry {path!r}")


def policy_is_sandboxed(policy: Any) -> bool:
    return isinstance(policy, (ReadOnlyPolicy, WorkspaceWritePolicy))
