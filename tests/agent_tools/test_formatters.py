"""The pure parts of unified exec against what the 0.169 binary produced (tests/agent_tools/data)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from rootstep.agent_tools.context import environment_context, permissions_instructions
from rootstep.agent_tools.unified_exec.approval import parse_approval_policy, plan_exec, request_approval_params
from rootstep.agent_tools.unified_exec.args import ArgumentError, parse_exec_command, parse_write_stdin
from rootstep.agent_tools.unified_exec.buffer import HeadTailBuffer
from rootstep.agent_tools.unified_exec.command_actions import command_actions
from rootstep.agent_tools.unified_exec.manager import clamp_exec_yield, clamp_write_yield
from rootstep.agent_tools.unified_exec.output import ExecOutput, approx_tokens_from_bytes
from rootstep.agent_tools.unified_exec.shell_words import join, quote
from rootstep.agent_tools.unified_exec.tool_specs import tool_definitions
from rootstep.sandbox import parse_sandbox_policy

DATA = Path(__file__).parent / "data"


def load(name: str):  # noqa: ANN201
    return json.loads((DATA / name).read_text())


def normalize(text: str) -> str:
    text = re.sub(r"Chunk ID: [0-9a-f]{6}", "Chunk ID: X", text)
    return re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: T seconds", text)


def test_tool_definitions_are_the_captured_ones() -> None:
    assert tool_definitions() == load("tools_0169.json")


@pytest.mark.parametrize("cmd,tokens",
                         [("seq 1 5000", 50), ("yes | head -c 300000", 20), ("echo hi; echo probe", None)])
def test_output_text_matches_the_binary(cmd: str, tokens: int | None) -> None:
    captured = {(json.loads(o["arguments"]).get("cmd"), json.loads(o["arguments"]).get("max_output_tokens")):
                o["output"]
                for o in load("function_outputs_0169.json")
                if o["name"] == "exec_command" and o["arguments"].startswith("{")}
    key = (cmd if cmd != "echo hi; echo probe" else "echo hi; echo $PROBE_VAR", tokens)
    raw = subprocess.run(["bash", "-c", cmd], capture_output=True, check=True).stdout
    out = ExecOutput(chunk_id="abcdef", wall_time_s=0.0, output=raw, exit_code=0,
                     original_token_count=approx_tokens_from_bytes(len(raw)), max_output_tokens=tokens)
    assert normalize(out.text()) == normalize(captured[key])


def test_running_session_and_omitted_bytes() -> None:
    out = ExecOutput(chunk_id="c73c36", wall_time_s=0.2515, output=b"", session_id=59439, original_token_count=0)
    assert out.text() == ("Chunk ID: c73c36\nWall time: 0.2515 seconds\nProcess running with session ID 59439\n"
                          "Original token count: 0\nOutput:\n")
    buf = HeadTailBuffer(max_bytes=8)
    buf.push(b"0123456789abcdef")
    assert buf.to_bytes() == b"0123\n... 8 bytes omitted ...\ncdef" and buf.total_bytes == 16
    text = ExecOutput(chunk_id="", wall_time_s=0, output=buf.to_bytes(), omitted_bytes=8).truncated_output()
    assert text == buf.to_bytes().decode()


def test_yield_clamps() -> None:
    assert clamp_exec_yield(1) == 250 and clamp_exec_yield(99_999_999) == 30_000 and clamp_exec_yield(10_000) == 10_000
    assert clamp_write_yield(100, empty=True) == 5_000 and clamp_write_yield(10**9, empty=True) == 300_000
    assert clamp_write_yield(100, empty=False) == 250 and clamp_write_yield(10**9, empty=False) == 30_000


def test_argument_errors_match_the_binary() -> None:
    captured = {o["arguments"]: o["output"] for o in load("function_outputs_0169.json")}
    for arguments in ("{}", '"notjson"'):
        with pytest.raises(ArgumentError) as err:
            parse_exec_command(arguments)
        assert str(err.value) == captured[arguments]
    args = parse_exec_command('{"cmd": "ls"}')
    assert (args.yield_time_ms, args.tty, args.login, args.sandbox_permissions) == (10_000, False, None, "use_default")
    assert parse_write_stdin('{"session_id": 5}').yield_time_ms == 250


def test_items_commands_and_actions_match_the_binary() -> None:
    items = [m["params"]["item"] for m in load("items_0169.json") if m.get("method") == "item/started"]
    assert items
    for item in items:
        unknown = item["commandActions"][0]["type"] == "unknown"
        script = next(a["command"] for a in item["commandActions"]) if unknown else None
        argv = ["/bin/bash", "-c", script] if script else None
        if argv is None or not item["command"].startswith("/bin/bash "):
            continue  # (0.169 shows a model-chosen shell by its resolved path: /bin/sh -> /usr/bin/sh)
        assert join(argv) == item["command"]
        assert command_actions(argv) == item["commandActions"]


@pytest.mark.parametrize("script,expected", [
    ("cat hello.txt | wc -l", [{"type": "read", "command": "cat hello.txt", "name": "hello.txt", "path": "hello.txt"}]),
    ("rg foo src", [{"type": "search", "command": "rg foo src", "query": "foo", "path": "src"}]),
    ("ls -la sub", [{"type": "listFiles", "command": "ls -la sub", "path": "sub"}]),
    ("cd sub && sed -n 1,5p x.py",
     [{"type": "read", "command": "sed -n '1,5p' x.py", "name": "x.py", "path": "sub/x.py"}]),
    ("touch a && ls", [{"type": "unknown", "command": "touch a && ls"}]),
])
def test_command_actions(script: str, expected: list[dict]) -> None:
    assert command_actions(["/bin/bash", "-c", script]) == expected


def test_shell_quoting() -> None:
    assert quote("") == "''" and quote("abc") == "abc" and quote("a b") == "'a b'"
    assert quote("it's") == '"it\'s"' and quote("a\\b") == '"a\\\\b"'


def test_context_messages_match_the_binary() -> None:
    for name, case in load("context_0169.json").items():
        ts = case["thread_start"]
        sandbox = parse_sandbox_policy(ts["sandbox"])
        approval = parse_approval_policy(ts["approvalPolicy"])
        assert permissions_instructions(sandbox, approval, ts["cwd"], env={}) == case["permissions"], name
        assert environment_context(cwd=ts["cwd"], shell="bash", current_date="2026-12-03", timezone="Etc/UTC",
                                   sandbox_policy=sandbox) == case["environment_context"], name


def test_escalation_request_matches_the_binary() -> None:
    request = next(m for m in load("items_0169.json") if m.get("method") == "item/commandExecution/requestApproval")
    params = request["params"]
    argv = ["/bin/bash", "-c", "touch /var/tmp/rs_probe_y"]
    plan = plan_exec(argv, approval=parse_approval_policy("on-request"),
                     sandbox_policy=parse_sandbox_policy("workspace-write"),
                     require_escalated=True, prefix_rule=("touch",))
    assert plan.action == "ask" and not plan.sandboxed
    ours = request_approval_params(
        thread_id=params["threadId"], turn_id=params["turnId"], item_id=params["itemId"],
        started_at_ms=params["startedAtMs"],
        environment_id="local", command=join(argv), cwd=params["cwd"], command_actions=command_actions(argv),
        reason="Allow touching?", amendment=plan.proposed_amendment,
    )
    assert ours == params and list(ours) == list(params)


def test_rejections_match_the_binary() -> None:
    captured = {o["arguments"]: o["output"] for o in load("function_outputs_0169.json")}
    plan = plan_exec(["/bin/bash", "-c", "echo x"], approval=parse_approval_policy("never"),
                     sandbox_policy=parse_sandbox_policy("danger-full-access"), require_escalated=True)
    assert plan.action == "reject"
    assert plan.reason == captured['{"cmd": "echo x", "sandbox_permissions": "require_escalated"}']
