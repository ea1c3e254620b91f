"""The context messages 0.169 gives the model about where and how commands run, as pure
functions: the ``<permissions instructions>`` developer message and the ``<environment_context>``
user message (texts captured from the 0.169 binary's first model request)."""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from rootstep.agent_tools.unified_exec.approval import ApprovalPolicy
from rootstep.sandbox.policy import (
    PROTECTED_METADATA_NAMES,
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    WorkspaceWritePolicy,
    mode_of,
    network_enabled,
)

_SANDBOX_TEXT = {
    "read-only": "The sandbox only permits reading files.",
    "workspace-write": (
        "The sandbox permits reading files, and editing files in `cwd` and `writable_roots`. "
        "Editing files in other directories requires approval."
    ),
    "danger-full-access": "No filesystem sandboxing - all commands are permitted.",
}
_NEVER_TEXT = (
    "Approval policy is currently never. "
    "Do not provide the `sandbox_permissions` for any reason, commands will be rejected."
)
_UNTRUSTED_TEXT = (
    " `approval_policy` is `unless-trusted`: The harness will require user approval before running commands "
    "unless an explicit exec policy rule allows them."
)
_GRANULAR_CATEGORIES = ("sandbox_approval", "rules", "skill_approval", "mcp_elicitations")


def _on_request_text() -> str:
    return resources.files("rootstep.agent_tools").joinpath("context_texts/on_request.md").read_text(encoding="utf-8")


def _granular_text(policy: ApprovalPolicy) -> str:
    allowed = [c for c in _GRANULAR_CATEGORIES if getattr(policy, c)]
    rejected = [c for c in _GRANULAR_CATEGORIES if not getattr(policy, c)]
    lines = [
        "# Approval Requests",
        "",
        "Approval policy is `granular`. Categories set to `false` are automatically rejected "
        "instead of prompting the user.",
    ]
    if allowed:
        lines += ["", "These approval categories may still prompt the user when needed:",
                  *[f"- `{c}`" for c in allowed]]
    if rejected:
        lines += ["", "These approval categories are automatically rejected instead of prompting the user:",
                  *[f"- `{c}`" for c in rejected]]
    return "\n".join(lines)


def writable_roots_for_text(policy: Any, cwd: str, env: dict[str, str] | None = None) -> list[str]:
    """The roots the permissions text lists (sorted), for workspace-write."""
    if not isinstance(policy, WorkspaceWritePolicy):
        return []
    roots = {os.path.normpath(cwd), *(os.path.normpath(r) for r in policy.writable_roots)}
    if not policy.exclude_slash_tmp:
        roots.add("/tmp")
    tmpdir = (env if env is not None else os.environ).get("TMPDIR")
    if not policy.exclude_tmpdir_env_var and tmpdir and os.path.isabs(tmpdir):
        roots.add(os.path.normpath(tmpdir))
    return sorted(roots)


def permissions_instructions(
    sandbox_policy: Any, approval: ApprovalPolicy, cwd: str, env: dict[str, str] | None = None
) -> str:
    """The ``<permissions instructions>`` developer message text."""
    mode = mode_of(sandbox_policy)
    network = "enabled" if network_enabled(sandbox_policy) else "restricted"
    parts = [
        "<permissions instructions>",
        f"Filesystem sandboxing defines which files can be read or written. `sandbox_mode` is `{mode}`: "
        f"{_SANDBOX_TEXT[mode]} Network access is {network}.",
    ]
    if approval.kind == "never":
        parts.append(_NEVER_TEXT)
    elif approval.kind == "untrusted":
        parts.append(_UNTRUSTED_TEXT)
    elif approval.kind == "on-request":
        parts.append(_on_request_text())
    else:
        parts.append(_granular_text(approval))
    roots = writable_roots_for_text(sandbox_policy, cwd, env)
    if roots:
        parts.append(" The writable roots are " + ", ".join(f"`{r}`" for r in roots) + ".")
    parts.append("</permissions instructions>")
    return "\n".join(parts)


def _special(name: str) -> str:
    return f"<special>:{name}</special>"


def filesystem_xml(policy: Any, cwd: str) -> str:
    """The ``<filesystem>`` element of ``<environment_context>`` for the primary environment."""
    roots = [os.path.normpath(cwd)]
    if isinstance(policy, WorkspaceWritePolicy):
        roots += [os.path.normpath(r) for r in policy.writable_roots if os.path.normpath(r) not in roots]
    workspace = "<workspace_roots>" + "".join(f"<root>{r}</root>" for r in roots) + "</workspace_roots>"
    if isinstance(policy, (DangerFullAccessPolicy, ExternalSandboxPolicy)):
        profile = '<permission_profile type="disabled"><file_system type="unrestricted" /></permission_profile>'
        return f"<filesystem>{workspace}{profile}</filesystem>"
    entries = [f'<entry access="read">{_special("root")}</entry>']
    if isinstance(policy, WorkspaceWritePolicy):
        entries += [f'<entry access="write"><path>{r}</path></entry>' for r in roots]
        if not policy.exclude_slash_tmp:
            entries.append(f'<entry access="write">{_special("slash_tmp")}</entry>')
        if not policy.exclude_tmpdir_env_var:
            entries.append(f'<entry access="write">{_special("tmpdir")}</entry>')
        for name in PROTECTED_METADATA_NAMES:
            entries += [f'<entry access="read"><path>{os.path.join(r, name)}</path></entry>' for r in roots]
    profile = (
        '<permission_profile type="managed"><file_system type="restricted">'
        + "".join(entries)
        + "</file_system></permission_profile>"
    )
    return f"<filesystem>{workspace}{profile}</filesystem>"


def environment_context(*, cwd: str, shell: str, current_date: str, timezone: str, sandbox_policy: Any) -> str:
    """The ``<environment_context>`` user message text (``shell`` is its name, e.g. ``bash``)."""
    return "\n".join([
        "<environment_context>",
        f"  <cwd>{cwd}</cwd>",
        f"  <shell>{shell}</shell>",
        f"  <current_date>{current_date}</current_date>",
        f"  <timezone>{timezone}</timezone>",
        f"  {filesystem_xml(sandbox_policy, cwd)}",
        "</environment_context>",
    ])


