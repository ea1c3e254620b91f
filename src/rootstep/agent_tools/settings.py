"""A thread's settings as the agent tools read them: the sandbox and approval policies in force,
which tools the model is offered and in what shapes. Pure.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from rootstep.agent_tools.model_family import agent_tool_names, model_family
from rootstep.agent_tools.specs import tool_spec
from rootstep.sandbox.policy import SandboxPolicyError, mode_of, parse_sandbox_policy, policy_from_mode

if TYPE_CHECKING:
    from rootstep.agent_tools.unified_exec.approval import ApprovalPolicy

log = logging.getLogger(__name__)

# Offered by 0.169 but not served here: ``web_search`` is executed by the model provider and
# its calls would need ``webSearch`` items; ``tool_search`` and ``multi_agent_v1`` need
# deferred tools and sub-agents rootstep does not have.
NOT_SERVED = frozenset({"web_search", "tool_search", "multi_agent_v1"})


def sandbox_policy(mode: str, wire_policy: dict[str, Any] | None, config_raw: dict[str, Any]) -> Any:
    """The policy in force: a turn's wire policy while its mode is still the thread's, else the
    mode with config.toml's ``[sandbox_workspace_write]``."""
    if isinstance(wire_policy, dict):
        try:
            policy = parse_sandbox_policy(wire_policy)
        except SandboxPolicyError:
            policy = None
        if policy is not None and mode_of(policy) == mode:
            return policy
    table = config_raw.get("sandbox_workspace_write")
    try:
        return policy_from_mode(mode, table if isinstance(table, dict) else None)
    except SandboxPolicyError as exc:
        log.warning("sandbox_workspace_write ignored: %s", exc)
        return policy_from_mode(mode)


def approval_policy(raw: Any) -> ApprovalPolicy:
    """The thread's approval policy (an unreadable one counts as ``on-request``)."""
    from rootstep.agent_tools.unified_exec.approval import ApprovalPolicy, parse_approval_policy

    try:
        return parse_approval_policy(raw)
    except ValueError:
        return ApprovalPolicy("on-request")


def patch_approval_name(policy: ApprovalPolicy) -> str:
    """The apply_patch engine's policy name (granular asks as on-request does)."""
    return policy.kind if policy.kind != "granular" else "on-request"


def update_plan_enabled(config_raw: dict[str, Any]) -> bool:
    tools = config_raw.get("tools")
    table = tools.get("update_plan") if isinstance(tools, dict) else None
    return isinstance(table, dict) and table.get("enabled") is True


def offered_tools(slug: str, *, update_plan: bool, has_environment: bool, environments: int) -> list[dict[str, Any]]:
    """The agent's tools for one request, in 0.169's order and shapes (shared, read-only
    definitions: every step of every thread offers the same objects)."""
    return list(_offered_tools(slug, update_plan, has_environment, min(environments, 2)))


@functools.lru_cache(maxsize=64)
def _offered_tools(
    slug: str, update_plan: bool, has_environment: bool, environments: int
) -> tuple[dict[str, Any], ...]:
    from rootstep.agent_tools.apply_patch.tool import apply_patch_tool
    from rootstep.agent_tools.unified_exec.tool_specs import tool_definitions

    names = [n for n in agent_tool_names(slug, update_plan_enabled=update_plan, has_environment=has_environment)
             if n not in NOT_SERVED]
    exec_specs = {spec["name"]: spec for spec in tool_definitions()}
    tools: list[dict[str, Any]] = []
    for name in names:
        if name in exec_specs:
            tools.append(exec_specs[name])
        elif name == "apply_patch":
            tools.append(apply_patch_tool(include_environment_id=environments > 1))
        else:
            tools.append(tool_spec(name))
    return tuple(tools)


def offers_apply_patch_tool(slug: str) -> bool:
    return model_family(slug).apply_patch == "freeform"
