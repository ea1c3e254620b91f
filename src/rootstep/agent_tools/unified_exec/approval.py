"""Whether a command runs, asks first, or is refused — and in which sandbox — as 0.169 decides.

Inputs: the approval policy (``untrusted`` | ``on-request`` | ``never`` | ``{"granular": {...}}``;
0.169 has no ``on-failure`` any more), the sandbox policy, the command (its plain sub-commands,
the known-safe and dangerous lists), the model's ``sandbox_permissions`` / ``prefix_rule``, and
prefix rules (``prefix_rule(pattern=[...], decision=...)`` from ``.rules`` files, see
:mod:`.rules`). All pure.

The sandbox-denial retry: a command that fails in the sandbox with a likely denial may run again
without the sandbox only under ``untrusted`` or granular ``sandbox_approval``, after the user
approves (reason ``command failed; retry without sandbox?``), unless already approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rootstep.agent_tools.unified_exec.bash_words import extract_bash_script, plain_commands
from rootstep.agent_tools.unified_exec.rules import Decision, PrefixRules
from rootstep.agent_tools.unified_exec.safety import _rm_forced, is_dangerous
from rootstep.agent_tools.unified_exec.shell_words import join as shlex_join
from rootstep.sandbox.policy import DangerFullAccessPolicy, ExternalSandboxPolicy

PROMPT_CONFLICT_REASON = "approval required by policy, but AskForApproval is set to Never"
REJECT_SANDBOX_APPROVAL_REASON = "approval required by policy, but AskForApproval::Granular.sandbox_approval is false"
REJECT_RULES_APPROVAL_REASON = "approval required by policy rule, but AskForApproval::Granular.rules is false"
RETRY_REASON = "command failed; retry without sandbox?"
FORCED_RM_REASON = "rm -f style commands are not permitted. Use a safer approach"
BANNED_PREFIX_SUGGESTIONS = (
    ("/bin/bash",), ("/bin/bash", "-c"), ("/bin/bash", "-lc"), ("/bin/sh",), ("/bin/sh", "-c"), ("/bin/sh", "-lc"),
    ("/bin/zsh",), ("/bin/zsh", "-c"), ("/bin/zsh", "-lc"), ("bash",), ("bash", "-c"), ("bash", "-lc"), ("sh",),
    ("sh", "-c"), ("sh", "-lc"), ("zsh",), ("zsh", "-c"), ("zsh", "-lc"),
)


@dataclass(frozen=True)
class ApprovalPolicy:
    kind: Literal["untrusted", "on-request", "never", "granular"]
    sandbox_approval: bool = True
    rules: bool = True
    mcp_elicitations: bool = True
    request_permissions: bool = False
    skill_approval: bool = False

    def debug_name(self) -> str:
        """How 0.169 names the policy in its rejection text (Rust ``Debug``)."""
        if self.kind == "granular":
            return (
                f"Granular(GranularApprovalConfig {{ sandbox_approval: {str(self.sandbox_approval).lower()}, rules: "
                f"{str(self.rules).lower()}, skill_approval: {str(self.skill_approval).lower()}, request_permissions: "
                f"{str(self.request_permissions).lower()}, mcp_elicitations: {str(self.mcp_elicitations).lower()} }})"
            )
        return {"untrusted": "UnlessTrusted", "on-request": "OnRequest", "never": "Never"}[self.kind]


def parse_approval_policy(raw: Any) -> ApprovalPolicy:
    """The wire/config value (``"on-request"``, ``{"granular": {...}}``)."""
    if isinstance(raw, str):
        if raw in ("untrusted", "on-request", "never"):
            return ApprovalPolicy(raw)  # type: ignore[arg-type]
        if raw == "on-failure":
            raise ValueError("approval policy `on-failure` is not supported by 0.169")
        raise ValueError(f"unknown approval policy {raw!r}")
    if isinstance(raw, dict) and isinstance(raw.get("granular"), dict):
        g = raw["granular"]
        return ApprovalPolicy(
            "granular", sandbox_approval=bool(g.get("sandbox_approval")), rules=bool(g.get("rules")),
            mcp_elicitations=bool(g.get("mcp_elicitations")),
            request_permissions=bool(g.get("request_permissions", False)),
            skill_approval=bool(g.get("skill_approval", False)),
        )
    raise ValueError(f"invalid approval policy {raw!r}")


@dataclass(frozen=True)
class ExecPlan:
    """``run`` (sandboxed or not), ``ask`` the user first, or ``reject`` with ``reason`` (the text
    the model gets)."""

    action: Literal["run", "ask", "reject"]
    sandboxed: bool = True
    reason: str | None = None
    proposed_amendment: tuple[str, ...] | None = None
    retry_without_sandbox: bool = False  # a sandbox denial may be retried unsandboxed
    retry_needs_approval: bool = True


@dataclass(frozen=True)
class _Eval:
    decision: Decision
    rule_prompt: bool = False
    rule_reason: str | None = None
    forbidden_reason: str | None = None
    all_rule_allowed: bool = False
    heuristic_prompt: tuple[str, ...] | None = None
    matched_rule: bool = False


def _commands(command: list[str]) -> list[list[str]]:
    """The sub-commands rules and lists judge. A script that is not plain words is judged whole
    (as 0.169 does, here-documents included): its ``[bash, -c, script]`` is also the amendment a
    prompt proposes."""
    script = extract_bash_script(command)
    commands = plain_commands(script) if script is not None else None
    return commands or [command]


def _unmatched(cmd: list[str], *, approval: ApprovalPolicy, unrestricted: bool, escalated: bool) -> Decision:
    # 0.169 asks under ``untrusted`` for every command no rule allows, known-safe ones (``ls``,
    # ``echo``) included (probed; older sources allowed those).
    if is_dangerous(cmd):
        return "forbidden" if approval.kind == "never" else "prompt"
    if approval.kind == "never":
        return "allow"
    if approval.kind == "untrusted":
        return "prompt"
    if unrestricted:
        return "allow"
    return "prompt" if escalated else "allow"


_RANK = {"allow": 0, "prompt": 1, "forbidden": 2}


def _evaluate(command: list[str], commands: list[list[str]], rules: PrefixRules, **ctx: Any) -> _Eval:
    decision: Decision = "allow"
    rule_prompt = False
    rule_reason = forbidden = None
    all_allowed = True
    heuristic_prompt = None
    matched_any = False
    for cmd in commands:
        match = rules.match(cmd)
        if match is not None:
            matched_any = True
            d = match.decision
            if d == "prompt":
                rule_prompt = True
                rule_reason = rule_reason or (
                    f"`{shlex_join(command)}` requires approval: {match.justification}"
                    if match.justification
                    else f"`{shlex_join(command)}` requires approval by policy"
                )
            if d == "forbidden":
                forbidden = forbidden or (
                    f"`{shlex_join(command)}` rejected: {match.justification}"
                    if match.justification
                    else f"`{shlex_join(command)}` rejected: policy forbids commands starting with "
                    f"`{shlex_join(list(match.prefix))}`"
                )
            if d != "allow":
                all_allowed = False
        else:
            all_allowed = False
            d = _unmatched(cmd, **ctx)
            if d == "prompt" and heuristic_prompt is None:
                heuristic_prompt = tuple(cmd)
            if d == "forbidden" and forbidden is None:
                reason = FORCED_RM_REASON if _forced_rm_in(cmd) else "blocked by policy"
                forbidden = f"`{shlex_join(command)}` rejected: {reason}"
        if _RANK[d] > _RANK[decision]:
            decision = d
    return _Eval(
        decision, rule_prompt, rule_reason, forbidden, all_allowed and bool(commands), heuristic_prompt, matched_any
    )


def _forced_rm_in(cmd: list[str]) -> bool:
    if cmd and cmd[0].rsplit("/", 1)[-1] == "rm" and _rm_forced(cmd[1:]):
        return True
    script = extract_bash_script(cmd)
    return bool(script) and any(_forced_rm_in(c) for c in (plain_commands(script or "") or []))


def _requested_amendment(
    prefix_rule: tuple[str, ...] | None,
    commands: list[list[str]],
    rules: PrefixRules,
    ev: _Eval,
    ctx: dict[str, Any],
) -> tuple[str, ...] | None:
    if not prefix_rule or tuple(prefix_rule) in BANNED_PREFIX_SUGGESTIONS or ev.matched_rule:
        return None
    with_rule = rules.with_rule(tuple(prefix_rule), "allow")
    for cmd in commands:
        match = with_rule.match(cmd)
        d = match.decision if match is not None else _unmatched(cmd, **ctx)
        if d != "allow":
            return None
    return tuple(prefix_rule)


def plan_exec(
    command: list[str],
    *,
    approval: ApprovalPolicy,
    sandbox_policy: Any,
    require_escalated: bool = False,
    prefix_rule: tuple[str, ...] | None = None,
    rules: PrefixRules | None = None,
    approved_for_session: bool = False,
) -> ExecPlan:
    """Pure: what to do with ``command`` (the argv that will run, e.g. ``[bash, -c, script]``)."""
    rules = rules or PrefixRules()
    unrestricted = isinstance(sandbox_policy, (DangerFullAccessPolicy, ExternalSandboxPolicy))
    if require_escalated and approval.kind != "on-request":
        name = approval.debug_name()
        return ExecPlan(
            "reject",
            reason=f"approval policy is {name}; reject command — "
            f"you cannot ask for escalated permissions if the approval policy is {name}",
        )
    commands = _commands(command)
    ctx = dict(approval=approval, unrestricted=unrestricted, escalated=require_escalated)
    ev = _evaluate(command, commands, rules, **ctx)
    retry = approval.kind == "untrusted" or (approval.kind == "granular" and approval.sandbox_approval)
    sandboxed = not unrestricted
    if ev.decision == "forbidden":
        return ExecPlan("reject", reason=ev.forbidden_reason or f"`{shlex_join(command)}` rejected: blocked by policy")
    if ev.decision == "prompt":
        rejection = None
        if approval.kind == "never":
            rejection = PROMPT_CONFLICT_REASON
        elif approval.kind == "granular":
            if ev.rule_prompt and not approval.rules:
                rejection = REJECT_RULES_APPROVAL_REASON
            elif not ev.rule_prompt and not approval.sandbox_approval:
                rejection = REJECT_SANDBOX_APPROVAL_REASON
        if rejection is not None:
            if not ev.rule_prompt and any(_forced_rm_in(c) for c in commands):
                rejection = FORCED_RM_REASON
            return ExecPlan("reject", reason=rejection)
        amendment = _requested_amendment(prefix_rule, commands, rules, ev, ctx) or (
            None if ev.rule_prompt else ev.heuristic_prompt)
        run_sandboxed = sandboxed and not require_escalated
        if approved_for_session:
            return ExecPlan(
                "run", sandboxed=run_sandboxed, retry_without_sandbox=retry and sandboxed, retry_needs_approval=False
            )
        return ExecPlan("ask", sandboxed=run_sandboxed, reason=ev.rule_reason, proposed_amendment=amendment,
                        retry_without_sandbox=retry and run_sandboxed, retry_needs_approval=False)
    bypass = ev.all_rule_allowed or (require_escalated and approval.kind == "on-request")
    return ExecPlan("run", sandboxed=sandboxed and not bypass, retry_without_sandbox=retry and sandboxed and not bypass,
                    retry_needs_approval=approval.kind != "never")


def available_decisions(amendment: tuple[str, ...] | None) -> list[Any]:
    """What the approval prompt offers (0.169: accept, the amendment if any, cancel)."""
    decisions: list[Any] = ["accept"]
    if amendment:
        decisions.append({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": list(amendment)}})
    decisions.append("cancel")
    return decisions


@dataclass(frozen=True)
class ApprovalOutcome:
    """A client's answer: run (and remember for the session / persist a rule) or not; ``cancel``
    also interrupts the turn."""

    approved: bool
    for_session: bool = False
    amendment: tuple[str, ...] | None = None
    interrupt_turn: bool = False


def parse_decision(raw: Any) -> ApprovalOutcome:
    """``{"decision": ...}`` of ``item/commandExecution/requestApproval``; anything unreadable
    (or a client that is gone: pass None) declines."""
    decision = raw.get("decision") if isinstance(raw, dict) else None
    if decision == "accept":
        return ApprovalOutcome(True)
    if decision == "acceptForSession":
        return ApprovalOutcome(True, for_session=True)
    if decision == "cancel":
        return ApprovalOutcome(False, interrupt_turn=True)
    if isinstance(decision, dict):
        amend = decision.get("acceptWithExecpolicyAmendment")
        if isinstance(amend, dict) and isinstance(amend.get("execpolicy_amendment"), list):
            return ApprovalOutcome(True, amendment=tuple(str(x) for x in amend["execpolicy_amendment"]))
        if isinstance(decision.get("applyNetworkPolicyAmendment"), dict):
            return ApprovalOutcome(True)
    return ApprovalOutcome(False)


def request_approval_params(
    *, thread_id: str, turn_id: str, item_id: str, started_at_ms: int, environment_id: str, command: str, cwd: str,
    command_actions: list[dict[str, Any]], reason: str | None, amendment: tuple[str, ...] | None,
) -> dict[str, Any]:
    """The ``item/commandExecution/requestApproval`` params, keys in 0.169's order."""
    params: dict[str, Any] = {
        "kind": "command", "threadId": thread_id, "turnId": turn_id, "itemId": item_id, "startedAtMs": started_at_ms,
        "environmentId": environment_id,
    }
    if reason is not None:
        params["reason"] = reason
    params.update({"command": command, "cwd": cwd, "commandActions": command_actions})
    if amendment:
        params["proposedExecpolicyAmendment"] = list(amendment)
    params["availableDecisions"] = available_decisions(amendment)
    return params
