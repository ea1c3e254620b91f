"""Details of an approval prompt and of a cancelled call, as codex 0.169 produces them (the
differential run is ``tests/agent_e2e/test_differential_prompts.py``)."""

from __future__ import annotations

import pytest

from rootstep.agent_tools.unified_exec.approval import parse_approval_policy, plan_exec
from rootstep.agent_tools.unified_exec.command_actions import command_actions, resolved_in
from rootstep.core.turn import aborted_output
from rootstep.sandbox import parse_sandbox_policy
from rootstep.tools import FunctionCall


@pytest.mark.parametrize("script,amendment", [
    # not plain words (a redirection, a here-document, an expansion): the whole argv is proposed
    ("echo made > made.txt && cat made.txt", None),
    ("cat <<'EOF'\nhi\nEOF", None),
    ("ls $HOME", None),
    # plain words: the first command that asks
    ("touch a.txt", ["touch", "a.txt"]),
    ("echo a | wc -l", ["echo", "a"]),
])
def test_an_escalated_command_proposes_to_remember(script: str, amendment: list[str] | None) -> None:
    argv = ["/bin/bash", "-c", script]
    plan = plan_exec(argv, approval=parse_approval_policy("on-request"),
                     sandbox_policy=parse_sandbox_policy("read-only"), require_escalated=True)
    assert plan.action == "ask"
    assert plan.proposed_amendment == tuple(amendment or argv)


def test_read_paths_are_absolute_for_clients() -> None:
    actions = command_actions(["/bin/bash", "-c", "cat x.txt && ls sub"])
    assert resolved_in(actions, "/work/sub") == [
        {"type": "read", "command": "cat x.txt", "name": "x.txt", "path": "/work/sub/x.txt"},
        {"type": "listFiles", "command": "ls sub", "path": "sub"},
    ]
    assert resolved_in(command_actions(["/bin/bash", "-c", "cat /etc/hosts"]), "/work")[0]["path"] == "/etc/hosts"


def test_an_aborted_call_is_told_how_long_it_ran() -> None:
    command = FunctionCall("c1", "exec_command", None, "{}")
    patch = FunctionCall("p1", "apply_patch", None, "*** Begin Patch", custom=True)
    assert aborted_output(command, 1.26) == "Wall time: 1.3 seconds\naborted by user"
    assert aborted_output(command, 0.01) == "Wall time: 0.1 seconds\naborted by user"  # never below 0.1
    assert aborted_output(patch, 0.0) == "aborted by user after 0.1s"
