"""The pure rules behind the TUI's methods: review texts and rendering, goals, read states,
config edits, per-thread overrides, auth.json shapes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from rootstep.agent_tools.goals import Goal, GoalError, GoalStore
from rootstep.auth.store import AuthStore, parse_auth_file
from rootstep.config.edit import VERSION_CONFLICT, ConfigEditError, Edit, edit_config_file, layer_version
from rootstep.config.overrides import apply_overrides
from rootstep.core.read_state import CONFLICT, UNAVAILABLE, ReadStateError, after_turn, apply_operation
from rootstep.core.review import NO_OUTPUT, ReviewError, render_review, review_request


def finding(title: str, body: str, start: int = 1, end: int = 2) -> dict:
    return {"title": title, "body": body, "confidence_score": 0.5, "priority": 1,
            "code_location": {"absolute_file_path": "/w/a.py", "line_range": {"start": start, "end": end}}}


def answer(findings: list, explanation: str = "Summary.") -> str:
    return json.dumps({"findings": findings, "overall_correctness": "patch is correct",
                       "overall_explanation": explanation, "overall_confidence_score": 0.8})


def test_review_rendering() -> None:
    assert render_review(answer([finding("[P1] A", "Line one\n\nLine three\n")])) == (
        "Summary.\n\nReview comment:\n\n- [P1] A \u2014 /w/a.py:1-2\n  Line one\n  \n  Line three")
    two = render_review("Here you go: " + answer([finding("A", "x"), finding("B", "y", 3, 3)], "") + " bye")
    assert two == "Full review comments:\n\n- A \u2014 /w/a.py:1-2\n  x\n\n- B \u2014 /w/a.py:3-3\n  y"
    assert render_review(answer([], "  ")) == NO_OUTPUT
    assert render_review("  plain words \n") == "plain words"
    assert render_review('{"findings": [], "overall_explanation": "partial"}') == (
        '{"findings": [], "overall_explanation": "partial"}')  # not a whole answer: shown as text
    assert render_review(None) == NO_OUTPUT


def test_review_requests(tmp_path: Path) -> None:
    assert review_request({"type": "uncommittedChanges"}, str(tmp_path)).display == "current changes"
    commit = review_request({"type": "commit", "sha": "0123456789abcdef", "title": "Fix it"}, str(tmp_path))
    assert commit.display == "commit 0123456: Fix it"
    assert commit.prompt.startswith('Review the code changes introduced by commit 0123456789abcdef ("Fix it").')
    no_base = review_request({"type": "baseBranch", "branch": "main"}, str(tmp_path))  # not a repository
    assert no_base.display == "changes against 'main'" and "Start by finding the merge diff" in no_base.prompt
    assert review_request({"type": "custom", "instructions": "Look"}, str(tmp_path)).prompt == "Look"
    with pytest.raises(ReviewError, match="instructions must not be empty"):
        review_request({"type": "custom", "instructions": "  "}, str(tmp_path))


def test_goal_rules_and_persistence() -> None:
    changes: list[tuple[str, object]] = []
    store = GoalStore(clock=lambda: 5, on_change=lambda tid, goal: changes.append((tid, goal and goal.wire())))
    with pytest.raises(GoalError, match="no goal exists"):
        store.set("t", status="paused")
    goal = store.set("t", objective="  Ship  ")
    assert goal.wire() == {"threadId": "t", "objective": "Ship", "status": "active", "tokenBudget": None,
                           "tokensUsed": 0, "timeUsedSeconds": 0, "createdAt": 5, "updatedAt": 5}
    assert store.set("t", status="complete", token_budget=10, token_budget_given=True).tokenBudget == 10
    for bad, message in (({"objective": " "}, "must not be empty"), ({"objective": "x" * 4001}, "at most 4000"),
                         ({"token_budget": 0, "token_budget_given": True}, "must be positive")):
        with pytest.raises(GoalError, match=message):
            store.set("t", **bad)  # type: ignore[arg-type]
    assert store.clear("t") and not store.clear("t")
    # Every change reaches the thread's rollout; a resumed store reads the last one back.
    assert [c[1] and c[1]["status"] for c in changes] == ["active", "complete", None]
    resumed = GoalStore()
    resumed.restore("t", changes[1][1])
    assert resumed.get("t") == store_goal_of(changes[1][1])
    resumed.restore("u", {"objective": ""})
    assert resumed.get("u") is None


def store_goal_of(record: object) -> Goal:
    assert isinstance(record, dict)
    return Goal(**record)


def test_read_state_rules() -> None:
    with pytest.raises(ReadStateError, match=UNAVAILABLE):
        apply_operation(None, "read", "x")
    first = after_turn(None, "turn-1")
    assert first["firstUnread"] == {"type": "turn", "turnId": "turn-1"}
    assert after_turn(first, "turn-2")["firstUnread"] == {"type": "turn", "turnId": "turn-1"}  # earliest stays
    with pytest.raises(ReadStateError, match=CONFLICT):
        apply_operation(first, "read", "stale")
    read = apply_operation(first, "read", first["revision"])
    assert read["firstUnread"] is None and read["revision"] != first["revision"]
    assert apply_operation(read, "unread", read["revision"])["firstUnread"] == {"type": "threadStart"}


def test_config_edits_keep_comments_stay_private_and_check_versions(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# top\nmodel = "a"  # why\n\n[mcp_servers.echo]\ncommand = "x"\nenabled = false\n')
    path.chmod(0o640)
    version = layer_version({"model": "a", "mcp_servers": {"echo": {"command": "x", "enabled": False}}})
    new = edit_config_file(path, [Edit("model", "b"), Edit("mcp_servers.echo", {"enabled": True}, "upsert"),
                                  Edit("features.gone", None)], expected_version=version)
    text = path.read_text()
    assert '# top' in text and 'model = "b"  # why' in text and 'command = "x"' in text and "enabled = true" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # as every config.toml writer: never wider than 0600
    assert new == layer_version({"model": "b", "mcp_servers": {"echo": {"command": "x", "enabled": True}}})
    with pytest.raises(ConfigEditError, match=VERSION_CONFLICT.split(".")[0]):
        edit_config_file(path, [Edit("model", "c")], expected_version=version)
    with pytest.raises(ConfigEditError, match="expected a string\nin `model`"):
        edit_config_file(path, [Edit("model", 3)])
    assert 'model = "b"' in path.read_text()  # a refused edit changes nothing


def test_thread_config_tables_merge() -> None:
    doc = {"mcp_servers": {"echo": {"command": "x", "enabled": True}}, "model": "m"}
    merged = apply_overrides(doc, {"mcp_servers": {"echo": {"enabled": False}}, "features.apps": False})
    assert merged == {"mcp_servers": {"echo": {"command": "x", "enabled": False}}, "model": "m",
                      "features": {"apps": False}}
    assert doc["mcp_servers"]["echo"]["enabled"] is True  # the input is not changed


def test_auth_json_shapes(tmp_path: Path) -> None:
    assert parse_auth_file({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-1"}).account() == {"type": "apiKey"}
    assert parse_auth_file({"OPENAI_API_KEY": None, "tokens": {"access_token": "at", "account_id": "a"}}).headers() == {
        "chatgpt-account-id": "a"}
    assert parse_auth_file({}) is None and parse_auth_file("nonsense") is None
    store = AuthStore(tmp_path)
    store.login_api_key("sk-2")
    assert json.loads((tmp_path / "auth.json").read_text()) == {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-2"}
    assert stat.S_IMODE((tmp_path / "auth.json").stat().st_mode) == 0o600
    assert store.current().bearer() == "sk-2"
    assert store.logout() and store.current() is None and not (tmp_path / "auth.json").exists()
