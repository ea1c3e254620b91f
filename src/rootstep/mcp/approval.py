"""Whether an MCP tool call may run without asking (spec §6.4 step 4). Pure functions.

A call runs without a prompt when the tool's approval mode is ``approve``, or the approval
policy is ``never`` with full disk write access (danger-full-access). Otherwise it needs
approval unless the tool's annotations and approval mode say it does not (``auto``: read-only
tools and tools that are neither destructive nor open-world run; ``writes``: read-only tools
run; ``prompt``: always ask). With policy ``never`` a call that needs approval is declined.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from rootstep.config.mcp_servers import McpServerConfig

DECLINED_NEVER = "MCP tool call requires approval, but approval policy is never"
DECLINED_NO_PROMPT = "MCP tool call requires approval, and rootstep cannot ask for approval yet"
FULL_ACCESS_SANDBOXES = frozenset({"danger-full-access", "dangerFullAccess"})


def approval_mode_for(config: McpServerConfig | None, tool: str) -> str:
    """Per-tool ``tools.<tool>.approval_mode``, else the server default, else ``auto``."""
    if config is None:
        return "auto"
    for name, setting in config.tools:
        if name == tool and setting.approval_mode:
            return setting.approval_mode
    return config.default_tools_approval_mode or "auto"


def _policy_name(policy: Any) -> str:
    if isinstance(policy, str):
        return policy
    value = getattr(policy, "value", None)
    return value if isinstance(value, str) else "granular"


def auto_approved(policy: Any, sandbox_mode: str | None, approval_mode: str) -> bool:
    if approval_mode == "approve":
        return True
    return _policy_name(policy) == "never" and sandbox_mode in FULL_ACCESS_SANDBOXES


def requires_approval(annotations: types.ToolAnnotations | None, approval_mode: str) -> bool:
    read_only = bool(annotations and annotations.read_only_hint)
    if approval_mode == "prompt":
        return True
    if approval_mode == "writes":
        return not read_only
    if approval_mode == "approve":
        return False
    destructive = annotations.destructive_hint if annotations else None
    if destructive is True:
        return True
    if read_only:
        return False
    open_world = annotations.open_world_hint if annotations else None
    return (destructive if destructive is not None else True) or (open_world if open_world is not None else True)


def decline_reason(
    policy: Any, sandbox_mode: str | None, annotations: types.ToolAnnotations | None, approval_mode: str
) -> str | None:
    """None when the call may run now; else why it is declined (no prompt is possible)."""
    if auto_approved(policy, sandbox_mode, approval_mode) or not requires_approval(annotations, approval_mode):
        return None
    return DECLINED_NEVER if _policy_name(policy) == "never" else DECLINED_NO_PROMPT
