"""The agent's tools against codex 0.169 itself: the same scenario on both servers, then the
items, notifications and the outputs the model got compared (timings, ids and paths aside)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import (
    custom_call,
    decide,
    exec_call,
    heredoc,
    later_call,
    outputs,
    run_turn,
    server,
    stable,
    tune_config,
)
from tests.fixtures.differential import assert_same_keys, run_both
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response

pytestmark = [pytest.mark.reference, pytest.mark.timeout(180)]

ITEM_KINDS = ("commandExecution", "fileChange", "imageView")
NOTIFICATIONS = ("item/commandExecution/outputDelta", "item/commandExecution/terminalInteraction", "turn/diff/updated",
                 "turn/plan/updated", "serverRequest/resolved")


def _prepare(sandbox: str = "workspace-write", approval: str = "never") -> Callable[[Path], None]:
    return lambda home: tune_config(home, sandbox=sandbox, approval=approval)


def _record(app: Any, model: MockModel, work: Path, asked: list[dict[str, Any]]) -> dict[str, Any]:
    """What the two servers must agree on."""
    seen = [m for m in app.messages if m.get("method") in ("item/started", "item/completed", *NOTIFICATIONS)]
    shown = [(m["method"], m["params"]["item"]) if "item" in m.get("params", {}) else (m["method"], m["params"])
             for m in seen if "item" not in m.get("params", {}) or m["params"]["item"]["type"] in ITEM_KINDS]
    return {
        "items": stable(shown, str(work)),
        "outputs": stable(outputs(model), str(work)),
        "asked": stable([(r["method"], r["params"]) for r in asked], str(work)),
    }


def _commands(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = home.parent / f"{home.name}-work"
    (work / "sub").mkdir(parents=True)
    poll = later_call()
    model.queue(
        exec_call("c1", "echo out; sleep 0.2; echo err >&2; exit 3"),  # ordered: the streams race
        exec_call("c2", "pwd", workdir="sub"),
        exec_call("c3", "touch inside.txt && echo wrote"),
        exec_call("c4", "echo first; sleep 1; echo second", yield_time_ms=250),
        poll, assistant_text("done"),
    )
    with server(home, command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        turn = app.call("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})["turn"]
        model.wait_for_requests(5)
        session = outputs(model)["c4"].split("session ID ", 1)[1].split("\n", 1)[0]
        decide(poll, "c5", "write_stdin", {"session_id": int(session), "yield_time_ms": 5000})
        app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        # the polled command's end: 0.169 may report it after turn/completed
        app.wait_for(lambda m: m.get("method") == "item/completed" and m["params"]["item"]["id"] == "c4", take=False)
        result = _record(app, model, work, [])
        app.close()
    return result


@pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")
def test_commands_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _commands, prepare=_prepare())
    assert_same_keys(reference, ours)


def _approvals(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = home.parent / f"{home.name}-work"
    work.mkdir()
    target = Path("/var/tmp") / f"rootstep-differential-{home.parent.name}-{home.name}"
    model.queue(exec_call("a1", "ls"), exec_call("a2", f"touch {target}"), exec_call("a3", "rm -f nothing"),
                assistant_text("done"))
    decisions = {"a2": "accept"}
    try:
        with server(home, command) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"cwd": str(work), "approvalPolicy": "untrusted"})["thread"]["id"]
            _turn, asked = run_turn(app, thread_id, "go",
                                    lambda r: {"decision": decisions.get(r["params"]["itemId"], "decline")})
            result = _record(app, model, work, asked)
            app.close()
        result["wrote"] = target.exists()
        return stable(result, str(target))
    finally:
        target.unlink(missing_ok=True)


def test_approvals_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    # Without a sandbox: whether 0.169 retries a sandboxed command depends on how fast it fails.
    reference, ours = run_both(reference_codex, tmp_path, _approvals, prepare=_prepare("danger-full-access"))
    assert reference["wrote"] is True
    assert_same_keys(reference, ours)


PATCH = ("*** Begin Patch\n*** Add File: a.txt\n+alpha\n*** Update File: b.txt\n@@\n-b1\n+B1\n"
         "*** Delete File: c.txt\n*** End Patch")
BROKEN = "*** Begin Patch\n*** Update File: b.txt\n@@\n-zzz\n+x\n*** End Patch"
AGAIN = "*** Begin Patch\n*** Update File: a.txt\n@@\n-alpha\n+ALPHA\n*** End Patch"


def _patches(slug: str) -> Callable[[list[str], Path, MockModel], dict[str, Any]]:
    def scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
        work = home.parent / f"{home.name}-work"
        work.mkdir()
        (work / "b.txt").write_text("b1\nb2\n")
        (work / "c.txt").write_text("gone\n")
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        for call_id, patch in (("p1", PATCH), ("p2", BROKEN), ("p3", AGAIN)):
            model.queue(custom_call(call_id, "apply_patch", patch) if slug == "gpt-5.5"
                        else exec_call(call_id, heredoc(patch)))
        model.queue(assistant_text("done"))
        with server(home, command) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"cwd": str(work), "model": slug})["thread"]["id"]
            run_turn(app, thread_id, "go")
            result = _record(app, model, work, [])
            app.close()
        result["files"] = sorted(p.name for p in work.iterdir() if p.is_file())
        # wall times of the patch itself differ with the machine's speed
        result["outputs"] = {k: v.replace("Wall time: 0.1 seconds", "Wall time: 0 seconds").replace(
            "Wall time: 0.2 seconds", "Wall time: 0 seconds").replace("Wall time: 0.3 seconds", "Wall time: 0 seconds")
            for k, v in result["outputs"].items()}
        return result

    return scenario


@pytest.mark.parametrize("slug", ["mock-model", "gpt-5.5"])
def test_patches_match_the_reference(reference_codex: Path, tmp_path: Path, slug: str) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _patches(slug), prepare=_prepare())
    assert reference["files"] == ["a.txt", "b.txt"]
    assert_same_keys(reference, ours)


def _turn_tools(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = home.parent / f"{home.name}-work"
    work.mkdir()
    (work / "not-an-image.png").write_text("text")
    plan = {"plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "done"}]}
    model.queue(
        function_call_response("t1", "update_plan", json.dumps({"explanation": "x", "plan": plan["plan"][:1]})),
        function_call_response("t2", "update_plan", json.dumps(plan)),
        function_call_response("t3", "view_image", json.dumps({"path": "not-an-image.png"})),
        function_call_response("t4", "view_image", json.dumps({"path": "missing.png"})),
        function_call_response("t5", "get_goal", "{}"),
        function_call_response("t6", "update_goal", json.dumps({"status": "complete"})),
        function_call_response("t7", "request_user_input", json.dumps({"questions": []})),
        exec_call("t8", "cat", tty=True, yield_time_ms=300),
        assistant_text("done"),
    )
    with server(home, command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        run_turn(app, thread_id, "go")
        result = _record(app, model, work, [])
        listed = app.call("thread/backgroundTerminals/list", {"threadId": thread_id})["data"]
        result["terminals"] = stable(listed, str(work))
        app.close()
    return result


def test_plan_image_goal_and_terminal_tools_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    extra = "\n[tools.update_plan]\nenabled = true\n"
    reference, ours = run_both(reference_codex, tmp_path, _turn_tools, extra=extra,
                               prepare=_prepare("danger-full-access"))
    assert_same_keys(reference, ours)


def _client_commands(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = home.parent / f"{home.name}-work"
    work.mkdir()
    out: dict[str, Any] = {}
    with server(home, command, cwd=work) as app:
        app.initialize()
        out["buffered"] = app.call("command/exec", {"command": ["sh", "-c", "echo out; echo err >&2; exit 4"]})
        out["capped"] = app.call("command/exec", {"command": ["sh", "-c", "printf 0123456789"], "outputBytesCap": 4})
        for name, method, params in (
            ("empty", "command/exec", {"command": []}),
            ("stream without id", "command/exec", {"command": ["true"], "streamStdoutStderr": True}),
            ("both caps", "command/exec", {"command": ["true"], "outputBytesCap": 1, "disableOutputCap": True}),
            ("both timeouts", "command/exec", {"command": ["true"], "timeoutMs": 1, "disableTimeout": True}),
            ("size without tty", "command/exec", {"command": ["true"], "size": {"rows": 1, "cols": 1}}),
            ("unknown write", "command/exec/write", {"processId": "nope", "closeStdin": True}),
            ("unknown terminate", "command/exec/terminate", {"processId": "nope"}),
        ):
            error = app.call_error(method, params)
            out[name] = (error.code, error.message)
        request = app.request("command/exec", {"command": ["sh", "-c", "printf ready; cat"], "processId": "p1",
                                               "streamStdin": True, "streamStdoutStderr": True, "outputBytesCap": 5})
        out["first delta"] = app.wait_notification("command/exec/outputDelta")["params"]
        app.call("command/exec/write", {"processId": "p1", "deltaBase64": "eHl6Cg==", "closeStdin": True})
        out["streamed"] = app.wait_response(request)["result"]
        out["capped delta"] = app.notifications("command/exec/outputDelta")[-1]["params"]
        thread_id = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        app.call("thread/shellCommand", {"threadId": thread_id, "command": "echo hi; exit 2"})
        app.wait_notification("turn/completed")
        shell = [{**m["params"]["item"], "id": "<uuid>"} for m in app.notifications("item/completed")]
        out["shell"] = stable(shell, str(work))
        app.close()
    return out


def test_client_commands_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _client_commands, prepare=_prepare("danger-full-access"))
    assert reference["buffered"] == {"exitCode": 4, "stdout": "out\n", "stderr": "err\n"}
    assert_same_keys(reference, ours)
