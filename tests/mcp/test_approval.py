"""When an MCP tool call runs without asking (spec §6.4 step 4)."""

from __future__ import annotations

import mcp_types as types
import pytest

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.approval import (
    DECLINED_NEVER,
    DECLINED_NO_PROMPT,
    approval_mode_for,
    decline_reason,
    requires_approval,
)

READ_ONLY = types.ToolAnnotations(read_only_hint=True)
DESTRUCTIVE_READ_ONLY = types.ToolAnnotations(read_only_hint=True, destructive_hint=True)
CLOSED_SAFE = types.ToolAnnotations(destructive_hint=False, open_world_hint=False)


@pytest.mark.parametrize(
    ("annotations", "mode", "needed"),
    [
        (None, "auto", True),
        (READ_ONLY, "auto", False),
        (DESTRUCTIVE_READ_ONLY, "auto", True),
        (CLOSED_SAFE, "auto", False),
        (types.ToolAnnotations(destructive_hint=False), "auto", True),  # open world by default
        (READ_ONLY, "prompt", True),
        (None, "writes", True),
        (READ_ONLY, "writes", False),
        (None, "approve", False),
    ],
)
def test_requires_approval(annotations, mode, needed):
    assert requires_approval(annotations, mode) is needed


def test_decline_reasons():
    assert decline_reason("never", "read-only", READ_ONLY, "auto") is None
    assert decline_reason("never", "read-only", None, "auto") == DECLINED_NEVER
    assert decline_reason("never", "danger-full-access", None, "auto") is None  # full access: auto-approved
    assert decline_reason("on-request", "danger-full-access", None, "auto") == DECLINED_NO_PROMPT
    assert decline_reason("on-request", "read-only", None, "approve") is None


def test_approval_mode_from_config():
    config = McpServerConfig.from_toml(
        {"command": "x", "default_tools_approval_mode": "writes", "tools": {"echo": {"approval_mode": "approve"}}}
    )
    assert approval_mode_for(config, "echo") == "approve"
    assert approval_mode_for(config, "other") == "writes"
    assert approval_mode_for(McpServerConfig.from_toml({"command": "x"}), "echo") == "auto"
