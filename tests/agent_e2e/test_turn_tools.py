"""The tools that keep the user in the loop: update_plan, view_image, the goal tools; and which
tools each model is offered, with the context (permissions, environment, AGENTS.md) before the
turn's input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.agent_e2e.helpers import agent_home, outputs, run_turn, server
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response

pytestmark = pytest.mark.timeout(120)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_plan_image_and_goal_tools(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, extra="\n[tools.update_plan]\nenabled = true\n")
    (tmp_path / "img.png").write_bytes(PNG)
    plan = {"explanation": "why",
            "plan": [{"step": "read", "status": "in_progress"}, {"step": "write", "status": "pending"}]}
    model.queue(
        function_call_response("t1", "update_plan", json.dumps(plan)),
        function_call_response("t2", "view_image", json.dumps({"path": "img.png"})),
        function_call_response("t3", "create_goal", json.dumps({"objective": "Ship it", "token_budget": 5000})),
        function_call_response("t4", "update_goal", json.dumps({"status": "complete"})),
        function_call_response("t5", "get_goal", "{}"),
        assistant_text("done"),
    )
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        turn, _ = run_turn(app, thread_id, "go")
        assert turn["status"] == "completed"
        names = [t.get("name") for t in model.requests[0].body["tools"]]
        assert names == ["exec_command", "write_stdin", "update_plan", "request_user_input", "view_image", "get_goal",
                         "create_goal", "update_goal"]
        [updated] = app.notifications("turn/plan/updated")
        assert updated["params"]["plan"] == [
            {"step": "read", "status": "inProgress"}, {"step": "write", "status": "pending"}]
        assert updated["params"]["explanation"] == "why" and updated["params"]["turnId"] == turn["id"]
        views = [m["params"]["item"] for m in app.notifications("item/completed")
                 if m["params"]["item"]["type"] == "imageView"]
        assert [(v["id"], v["path"]) for v in views] == [("t2", str(tmp_path / "img.png"))]
        goals = [m["params"]["goal"]["status"] for m in app.notifications("thread/goal/updated")]
        assert goals == ["active", "complete"]
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    assert got["t1"] == "Plan updated"
    assert got["t2"] == [{"type": "input_image", "image_url": f"data:image/png;base64,{base64.b64encode(PNG).decode()}",
                          "detail": "high"}]
    assert json.loads(got["t5"])["goal"]["objective"] == "Ship it"


def test_context_goes_before_the_input_and_again_only_when_it_changes(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="read-only")
    work = tmp_path / "repo"
    (work / ".git").mkdir(parents=True)
    (work / "AGENTS.md").write_text("root rules\n")
    (work / "sub").mkdir()
    (work / "sub" / "AGENTS.md").write_text("sub rules\n")
    model.queue(assistant_text("one"), assistant_text("two"), assistant_text("three"))
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work / "sub")})["thread"]["id"]
        for prompt, params in (("first", {}), ("second", {}), ("third", {"cwd": str(work)})):
            assert run_turn(app, thread_id, prompt, **params)[0]["status"] == "completed"
        app.assert_schema_clean()
        assert app.close() == 0

    def messages(index: int) -> list[tuple[str, list[str]]]:
        return [(i["role"], [c["text"].split("\n", 1)[0] for c in i["content"]])
                for i in model.requests[index].body["input"] if i.get("type") == "message"]

    first = [("developer", ["<permissions instructions>"]),
             ("user", [f"# AGENTS.md instructions for {work / 'sub'}", "<environment_context>"]), ("user", ["first"])]
    assert messages(0) == first
    assert messages(1) == first + [("assistant", ["one"]), ("user", ["second"])]
    # a new cwd: new instructions (replacing the old ones) and a new environment in one message
    # (consecutive sections of one role merge), the unchanged permissions not again
    assert messages(2)[len(first) + 2:] == [
        ("assistant", ["two"]), ("user", [f"# AGENTS.md instructions for {work}", "<environment_context>"]),
        ("user", ["third"])]
    texts = [c["text"] for i in model.requests[0].body["input"] for c in i.get("content", [])]
    assert texts[1] == (f"# AGENTS.md instructions for {work / 'sub'}\n\n"
                        "<INSTRUCTIONS>\nroot rules\n\n\nsub rules\n\n</INSTRUCTIONS>")
    assert f"<cwd>{work / 'sub'}</cwd>" in texts[2]
    later = [c["text"] for i in model.requests[2].body["input"] for c in i.get("content", [])]
    assert any(t.startswith(f"# AGENTS.md instructions for {work}\n\n"
                            "<INSTRUCTIONS>\nThese AGENTS.md instructions replace")
               for t in later)


def test_models_get_the_tools_0169_gives_them(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model)
    model.queue(assistant_text("a"), assistant_text("b"), assistant_text("c"))
    with server(home) as app:
        app.initialize()
        for slug in ("mock-model", "gpt-5.5", "gpt-6-sol"):
            thread_id = app.call("thread/start", {"cwd": str(tmp_path), "model": slug})["thread"]["id"]
            assert run_turn(app, thread_id, "hi")[0]["status"] == "completed"
        warnings = [m["params"]["message"] for m in app.notifications("warning")]
        app.assert_schema_clean()
        assert app.close() == 0
    offered = [[t.get("name") for t in r.body.get("tools", [])] for r in model.requests]
    assert offered[0] == ["exec_command", "write_stdin", "request_user_input", "view_image",
                          "get_goal", "create_goal", "update_goal"]
    assert offered[1] == ["exec_command", "write_stdin", "request_user_input", "apply_patch", "view_image", "get_goal",
                          "create_goal", "update_goal"]
    assert model.requests[1].body["tools"][3]["type"] == "custom"
    assert offered[2] == []  # a code-mode model: its tools are not offered top-level
    assert warnings == ["Model metadata for `mock-model` not found. Defaulting to fallback metadata; this can degrade "
                        "performance and cause issues."]
