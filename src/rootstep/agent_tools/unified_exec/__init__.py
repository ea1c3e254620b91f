"""Unified exec: the ``exec_command`` / ``write_stdin`` tools of codex 0.169.

Entry points: :func:`.tool_specs.tool_definitions` (what to offer the model),
:class:`.manager.UnifiedExecManager` (one per thread; ``exec_command`` / ``write_stdin`` return
the function output text), :class:`.manager.ExecContext` / :class:`.manager.ExecEvents` (what the
thread supplies), and the pure parts: :mod:`.output`, :mod:`.command_actions`, :mod:`.approval`.
"""

from rootstep.agent_tools.unified_exec.approval import ApprovalPolicy, ExecPlan, parse_approval_policy, plan_exec
from rootstep.agent_tools.unified_exec.manager import ExecContext, ExecEvents, TurnCancelled, UnifiedExecManager
from rootstep.agent_tools.unified_exec.tool_specs import EXEC_COMMAND, TOOL_NAMES, WRITE_STDIN, tool_definitions

__all__ = [
    "EXEC_COMMAND", "TOOL_NAMES", "WRITE_STDIN", "ApprovalPolicy", "ExecContext", "ExecEvents", "ExecPlan",
    "TurnCancelled", "UnifiedExecManager", "parse_approval_policy", "plan_exec", "tool_definitions",
]
