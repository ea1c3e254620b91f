"""Asking the user: command approvals (each decision), patch approvals, request_user_input — the
server request, its ``serverRequest/resolved``, and what the model and the client see after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import agent_home, exec_call, items, outputs, run_turn, server
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")]

APPROVAL = "item/commandExecution/requestApproval"


def _escalated(call_id: str, target: Path) -> Any:
    return exec_call(
        call_id, f"touch {target}", sandbox_permissions="require_escalated", justification="May I touch it?"
    )


def test_each_command_approval_decision(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="workspace-write", approval="on-request")
    outside = Path("/var/tmp") / f"rootstep-approval-{tmp_path.name}"
    targets = {name: outside.with_name(f"{outside.name}-{name}")
               for name in ("accept", "decline", "session", "rule", "cancel")}
    decisions = {"a1": "accept", "d1": "decline", "s1": "acceptForSession", "x1": "cancel"}
    model.queue(
        _escalated("a1", targets["accept"]), _escalated("d1", targets["decline"]),
        _escalated("s1", targets["session"]), _escalated("s2", targets["session"]),
        _escalated("r1", targets["rule"]), _escalated("r2", targets["rule"]), assistant_text("done"),
        _escalated("x1", targets["cancel"]),
    )

    def answer(request: dict[str, Any]) -> Any:
        item = request["params"]["itemId"]
        if item == "r1":  # accept and remember the proposed rule (written to rules/default.rules)
            return {"decision": request["params"]["availableDecisions"][1]}
        return {"decision": decisions[item]}

    try:
        with server(home) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
            turn, asked = run_turn(app, thread_id, "go", answer)
            assert turn["status"] == "completed"
            # acceptForSession and a remembered rule: the same command runs unasked the second time
            assert [r["params"]["itemId"] for r in asked] == ["a1", "d1", "s1", "r1"]
            assert asked[3]["params"]["proposedExecpolicyAmendment"] == ["touch", str(targets["rule"])]
            first = asked[0]["params"]
            assert first["kind"] == "command" and first["environmentId"] == "local"
            assert first["reason"] == "May I touch it?"
            assert first["availableDecisions"][0] == "accept" and first["availableDecisions"][-1] == "cancel"
            resolved = [m["params"]["requestId"] for m in app.notifications("serverRequest/resolved")]
            assert resolved == [r["id"] for r in asked]
            statuses = {i["id"]: i["status"] for i in items(app, "commandExecution")}
            assert statuses == {"a1": "completed", "d1": "declined", "s1": "completed", "s2": "completed",
                                "r1": "completed", "r2": "completed"}
            # cancel: the turn ends interrupted, nothing ran
            turn, asked = run_turn(app, thread_id, "again", answer)
            assert turn["status"] == "interrupted" and [r["params"]["itemId"] for r in asked] == ["x1"]
            app.assert_schema_clean()
            assert app.close() == 0
        got = outputs(model)
        assert "Process exited with code 0" in got["a1"] and targets["accept"].exists()
        assert got["d1"] == 'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }'
        assert not targets["decline"].exists() and targets["session"].exists() and not targets["cancel"].exists()
        rules = (home / "rules" / "default.rules").read_text()
        assert f'prefix_rule(pattern=["touch", "{targets["rule"]}"], decision="allow")' in rules
    finally:
        for target in targets.values():
            target.unlink(missing_ok=True)


def test_untrusted_asks_then_retries_a_sandbox_denial_unsandboxed(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="workspace-write")
    target = Path("/var/tmp") / f"rootstep-untrusted-{tmp_path.name}"
    model.queue(exec_call("c1", "ls"), exec_call("c2", f"touch {target}"), assistant_text("done"))
    try:
        with server(home, patient=True) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"cwd": str(tmp_path), "approvalPolicy": "untrusted"})["thread"]["id"]
            turn, asked = run_turn(app, thread_id, "go", lambda r: {"decision": "accept"})
            assert turn["status"] == "completed"
            # everything is asked for, known-safe `ls` too (as 0.169); touch, once approved, is denied
            # by the sandbox and run again outside it without asking twice
            assert [r["params"]["itemId"] for r in asked] == ["c1", "c2"]
            assert asked[1]["params"]["proposedExecpolicyAmendment"] == ["touch", str(target)]
            started = [(i["id"], i["source"]) for i in items(app, "commandExecution", "item/started")]
            assert started == [("c1", "agent"), ("c2", "agent")]
            done = items(app, "commandExecution")[-1]
            assert (done["id"], done["status"], done["source"]) == ("c2", "completed", "unifiedExecStartup")
            app.assert_schema_clean()
            assert app.close() == 0
        assert target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_patch_approvals_and_refusals(tmp_path: Path, model: MockModel) -> None:
    """Outside the writable roots: `never` refuses without asking; `on-request` asks, and
    accept writes, decline leaves the file alone."""
    outside = Path("/var/tmp") / f"rootstep-patch-{tmp_path.name}"
    outside.mkdir(exist_ok=True)

    def add(name: str) -> str:
        return f"*** Begin Patch\n*** Add File: {outside / name}\n+{name}\n*** End Patch"

    def patch_call(call_id: str, name: str) -> Any:
        return exec_call(call_id, f"apply_patch <<'EOF'\n{add(name)}\nEOF\n")

    try:
        home = agent_home(tmp_path / "home", model, sandbox="workspace-write")
        model.queue(patch_call("n1", "never.txt"), assistant_text("done"),
                    patch_call("p1", "accepted.txt"), patch_call("p2", "declined.txt"), assistant_text("done"))
        with server(home) as app:
            app.initialize()
            thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
            assert run_turn(app, thread_id, "never")[0]["status"] == "completed"
            decisions = {"p1": "accept", "p2": "decline"}
            turn, asked = run_turn(app, thread_id, "ask", lambda r: {"decision": decisions[r["params"]["itemId"]]},
                                   approvalPolicy="on-request")
            assert turn["status"] == "completed"
            assert [(r["method"], r["params"]["itemId"]) for r in asked] == [
                ("item/fileChange/requestApproval", "p1"), ("item/fileChange/requestApproval", "p2")]
            assert {i["id"]: i["status"] for i in items(app, "fileChange")} == {"p1": "completed", "p2": "declined"}
            app.assert_schema_clean()
            assert app.close() == 0
        got = outputs(model)
        assert got["n1"] == "patch rejected: writing outside of the project; rejected by user approval settings"
        assert not (outside / "never.txt").exists()
        assert (outside / "accepted.txt").read_text() == "accepted.txt\n" and not (outside / "declined.txt").exists()
        assert got["p2"] == "patch rejected by user"
    finally:
        for child in outside.iterdir():
            child.unlink()
        outside.rmdir()


def test_request_user_input_round_trip_in_plan_mode(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model)
    questions = {"questions": [{"id": "color", "header": "Color", "question": "Which?",
                                "options": [{"label": "Red", "description": "warm"},
                                            {"label": "Blue", "description": "cool"}]}]}
    model.queue(function_call_response("u1", "request_user_input", json.dumps(questions)), assistant_text("ok"),
                function_call_response("u2", "request_user_input", json.dumps(questions)), assistant_text("ok"))
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        _turn, asked = run_turn(app, thread_id, "default mode")
        assert asked == []
        plan = {"mode": "plan", "settings": {"model": "mock-model"}}
        turn, asked = run_turn(app, thread_id, "plan mode", lambda r: {"answers": {"color": {"answers": ["Red"]}}},
                               collaborationMode=plan)
        assert turn["status"] == "completed"
        assert [r["method"] for r in asked] == ["item/tool/requestUserInput"]
        params = asked[0]["params"]
        assert params["itemId"] == "u2" and params["questions"][0]["isOther"] is True and params["isBlocking"] is True
        assert [m["params"]["requestId"] for m in app.notifications("serverRequest/resolved")] == [asked[0]["id"]]
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    assert got["u1"] == "request_user_input is unavailable in Default mode"
    assert got["u2"] == '{"answers":{"color":{"answers":["Red"]}}}'
