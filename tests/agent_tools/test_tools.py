"""Shell detection, the apply_patch call flow, update_plan, request_user_input, view_image,
goals and the model table, against what 0.169 answered."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import anyio
import pytest

from rootstep.agent_tools import goals, plan, user_input, view_image
from rootstep.agent_tools.apply_patch.shell import ImplicitPatch, ShellPatch, detect_in_exec_command
from rootstep.agent_tools.apply_patch.tool import PatchToolContext, apply_patch_tool, run_apply_patch, run_shell_patch
from rootstep.agent_tools.model_family import agent_tool_names, model_family
from rootstep.agent_tools.turn_diff import TurnDiffTracker
from rootstep.environments.local import LocalEnvironment

DATA = Path(__file__).parent / "data"


def test_shell_forms_are_recognised_like_0169(captured):
    cases = captured["exec_command"]
    assert isinstance(detect_in_exec_command(cases["plain"]["cmd"]), ShellPatch)
    assert detect_in_exec_command(cases["cd"]["cmd"]).workdir == "sub"
    assert isinstance(detect_in_exec_command(cases["applypatch_unquoted"]["cmd"]), ShellPatch)
    assert isinstance(detect_in_exec_command(cases["raw_patch"]["cmd"]), ImplicitPatch)
    assert detect_in_exec_command(cases["prefixed"]["cmd"]) is None  # ran as a command in 0.169
    assert detect_in_exec_command(cases["direct_arg"]["cmd"]) is None
    assert detect_in_exec_command("ls -la") is None


def _ctx(tmp_path, *, policy="never", roots=None, answers=()):
    events, asked = [], []
    answers = list(answers)

    async def notify(method, params):
        events.append((method, params))

    async def ask(method, params):
        asked.append((method, params))
        return answers.pop(0)

    ctx = PatchToolContext(LocalEnvironment(), "local", str(tmp_path), "thr", "turn", policy,
                           [str(tmp_path)] if roots is None else roots, notify, ask,
                           TurnDiffTracker({"local": str(tmp_path)}))
    return ctx, events, asked


def test_apply_patch_call_emits_items_and_turn_diff(tmp_path):
    ctx, events, asked = _ctx(tmp_path)
    result = anyio.run(run_apply_patch, ctx, "c1", "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch")
    assert result.output.startswith("Exit code: 0\nWall time: ")
    assert result.output.endswith("Output:\nSuccess. Updated the following files:\nA a.txt\n")
    assert [m for m, _ in events] == ["item/started", "item/completed", "turn/diff/updated"]
    assert events[1][1]["item"]["status"] == "completed" and not asked
    assert (tmp_path / "a.txt").read_text() == "x\n"


def test_outside_roots_under_never_is_rejected_without_item(tmp_path, captured):
    ctx, events, _ = _ctx(tmp_path, roots=[str(tmp_path / "only")])
    result = anyio.run(run_apply_patch, ctx, "c1", "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch")
    assert result.output == captured["patch_outputs2"]["outside_never"]["output"]
    assert not events and not (tmp_path / "a.txt").exists()


@pytest.mark.parametrize("decision,status,output", [
    ("accept", "completed", None), ("decline", "declined", "patch rejected by user"),
])
def test_on_request_outside_roots_asks(tmp_path, captured, decision, status, output):
    ctx, events, asked = _ctx(tmp_path, policy="on-request", roots=[str(tmp_path / "only")],
                              answers=[{"decision": decision}])
    result = anyio.run(run_apply_patch, ctx, "c1", "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch")
    ref = captured["approval"][decision]
    assert asked[0][0] == "item/fileChange/requestApproval"
    assert set(asked[0][1]) == set(ref["request"][0])
    statuses = [p["item"]["status"] for m, p in events if m.startswith("item/")]
    assert statuses == ref["item_statuses"] == ["inProgress", status]
    if output:
        assert result.output == output == ref["output"]
    assert (tmp_path / "a.txt").exists() == (decision == "accept")


def test_shell_patch_output_is_wrapped_like_exec(tmp_path, captured):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("a\nb\n")
    ctx, _, _ = _ctx(tmp_path)
    found = detect_in_exec_command(captured["exec_command"]["cd"]["cmd"])
    result = anyio.run(run_shell_patch, ctx, "e1", found)
    ref = captured["exec_command"]["cd"]["output"]

    def strip(s: str) -> str:
        return "\n".join(line for line in s.splitlines() if not line.startswith("Wall time"))

    assert strip(result.output) == strip(ref)
    assert (tmp_path / "sub" / "f.txt").read_text() == "a\nB\n"


def test_empty_patch_is_rejected(tmp_path, captured):
    ctx, _, _ = _ctx(tmp_path)
    result = anyio.run(run_apply_patch, ctx, "c1", "*** Begin Patch\n*** End Patch")
    assert result.output == captured["patch_outputs"]["empty"]["output"]


def test_apply_patch_tool_spec_is_the_reference_one(captured):
    ref = [t for t in captured["tools_gpt55"] if t.get("name") == "apply_patch"][0]
    assert apply_patch_tool() == ref


# --- update_plan / request_user_input ---------------------------------------------------------

@pytest.mark.parametrize("case,args", [
    ("plan_ok", {"explanation": "why", "plan": [{"step": "one", "status": "completed"},
                                                {"step": "two", "status": "in_progress"},
                                                {"step": "three", "status": "pending"}]}),
    ("plan_bad_status", {"plan": [{"step": "one", "status": "done"}]}),
    ("plan_missing", {"explanation": "x"}),
    ("plan_two_inprogress", {"plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]}),
    ("plan_extra_field", {"plan": [], "foo": 1}),
    ("plan_not_json", "not json"),
])
def test_update_plan_outputs(captured, case, args):
    text, note = plan.handle_update_plan(args if isinstance(args, str) else json.dumps(args),
                                         thread_id="t", turn_id="u")
    assert text == captured["misc_outputs"][case]
    if case == "plan_ok":
        assert note["plan"][1] == {"step": "two", "status": "inProgress"} and note["explanation"] == "why"
    assert plan.update_plan_tool() == captured["update_plan_tool"]


def test_request_user_input_round_trip(captured):
    ref = captured["user_input"]["ui_ok"]
    questions = [{k: v for k, v in q.items() if k not in ("isOther", "isSecret")}
                 for q in ref["request"][0]["questions"]]
    params, error = user_input.prepare_request(json.dumps({"questions": questions}),
                                               thread_id="t", turn_id="u", item_id="i")
    assert error is None
    assert params["questions"] == ref["request"][0]["questions"]
    assert {k: params[k] for k in ("isBlocking", "autoResolutionMs")} == {"isBlocking": True, "autoResolutionMs": None}
    answer = {"answers": {"color": {"answers": ["Red (Recommended)"]}, "name": {"answers": ["user_note: Bob"]}}}
    assert user_input.answer_text(answer) == ref["output"]
    no_options = '{"questions": [{"id": "q", "header": "H", "question": "Q?"}]}'
    assert user_input.prepare_request(no_options, thread_id="t", turn_id="u", item_id="i")[1] == (
        captured["user_input"]["ui_no_options"]["output"])
    assert user_input.prepare_request('{"questions": "x"}', thread_id="t", turn_id="u", item_id="i")[1] == (
        captured["user_input"]["ui_bad"]["output"])
    assert user_input.unavailable_message("default") == captured["misc_outputs"]["ui_ok"]


# --- view_image -----------------------------------------------------------------------------

def test_view_image_small_png_goes_out_as_is(tmp_path):
    (tmp_path / "red.png").write_bytes((DATA / "red.png").read_bytes())
    result = anyio.run(view_image.handle_view_image, LocalEnvironment(), str(tmp_path), '{"path": "red.png"}')
    assert result.output == [{"type": "input_image", "image_url": "data:image/png;base64,"
                              + base64.b64encode((DATA / "red.png").read_bytes()).decode(), "detail": "high"}]
    assert result.path == str(tmp_path / "red.png")


def test_view_image_resizes_like_0169(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (3000, 2000), "blue").save(buf, "PNG")
    (tmp_path / "big.png").write_bytes(buf.getvalue())
    result = anyio.run(view_image.handle_view_image, LocalEnvironment(), str(tmp_path), '{"path": "big.png"}')
    data = base64.b64decode(result.output[0]["image_url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (1920, 1280)
    for size, expected in [((2500, 2500), (1600, 1600)), ((1000, 3000), (683, 2048)), ((4000, 100), (2048, 51))]:
        assert view_image.target_size(*size) == expected


@pytest.mark.parametrize("case,make", [
    ("img_missing", None), ("img_notimg", b"hello, not an image"), ("img_gif", b"GIF89a" + b"\0" * 20),
    ("img_dir", "dir"),
])
def test_view_image_errors(tmp_path, captured, case, make):
    name = {"img_missing": "nope.png", "img_notimg": "notimg.png", "img_gif": "fake.gif", "img_dir": "dir"}[case]
    if make == "dir":
        (tmp_path / name).mkdir()
    elif make is not None:
        (tmp_path / name).write_bytes(make)
    result = anyio.run(view_image.handle_view_image, LocalEnvironment(), str(tmp_path), json.dumps({"path": name}))
    assert result.output == captured["misc_outputs"][case].replace("{cwd}", str(tmp_path))


# --- goals ----------------------------------------------------------------------------------

def test_goal_tools_follow_0169(captured):
    out = captured["misc_outputs"]
    store = goals.GoalStore(clock=lambda: 0)

    def call(name: str, args: dict) -> str:
        return goals.handle_goal_tool(store, name, json.dumps(args), thread_id="{thread}")[0]

    assert call("get_goal", {}) == out["goal_get_none"]
    assert call("update_goal", {"status": "complete"}) == out["goal_update_none"]
    assert call("create_goal", {"objective": "Ship it", "token_budget": 5000}) == out["goal_create"]
    assert call("get_goal", {}) == out["goal_get"]
    assert call("create_goal", {"objective": "Other"}) == out["goal_create_again"]
    assert call("update_goal", {"status": "active"}) == out["goal_update_bad"]
    assert call("update_goal", {"status": "paused"}) == out["goal_update_pause"]
    assert call("update_goal", {"status": "complete"}) == out["goal_update_complete"]
    assert call("get_goal", {}) == out["goal_get_after"]
    assert call("create_goal", {"objective": "x", "token_budget": 0}) == out["goal_create_bad_budget"]
    assert call("create_goal", {"objective": "  "}) == out["goal_create_empty"]


def test_goal_store_api():
    store = goals.GoalStore(clock=lambda: 7)
    with pytest.raises(goals.GoalError, match="no goal exists"):
        store.set("t", status="paused")
    goal = store.set("t", objective="API goal", token_budget=100, token_budget_given=True)
    assert goals.goal_updated_params(goal, None)["goal"]["status"] == "active"
    assert store.set("t", status="paused").status == "paused"
    assert store.clear("t") is True and store.clear("t") is False and store.get("t") is None


# --- model table ----------------------------------------------------------------------------

def test_model_table_matches_the_reference_requests(captured):
    names = captured["tool_names"]
    ours = set(agent_tool_names("gpt-5.5"))
    assert ours <= set(names["gpt-5.5"]) and "apply_patch" in ours
    for slug in ("gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.1", "mock-model"):
        assert set(agent_tool_names(slug)) <= set(names[slug])
        assert "apply_patch" not in names[slug] and not model_family(slug).known
    assert agent_tool_names("gpt-6.1-sol") == [] and names["gpt-6.1-sol"] == []
    assert model_family("gpt-6.1-sol").code_mode


def test_writability_honours_read_only_carve_outs():
    from dataclasses import dataclass

    from rootstep.agent_tools.apply_patch.tool import can_write

    @dataclass
    class Root:
        root: str
        read_only_subpaths: tuple[str, ...] = ()

    roots = [Root("/w", ("/w/.git", "/w/.codex")), "/tmp"]
    assert can_write("/w/src/a.py", roots) and can_write("/tmp/x", roots)
    assert not can_write("/w/.git/config", roots) and not can_write("/w/../etc/passwd", roots)
    assert not can_write("/elsewhere/x", roots)
