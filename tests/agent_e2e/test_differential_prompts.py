"""Approval prompts as the Codex TUI shows them, against codex 0.169 itself: a read-only sandbox
with approvals ``on-request`` (every escalated command and every edit asks).

The same scenario on both servers, compared: the prompts (a script that is not plain words
proposes to remember its whole ``[bash, -c, script]``; read paths are absolute), the items, a
``prompt`` rule read from ``$CODEX_HOME/rules/``, and what the model is told when the user
answers ``cancel`` (the TUI's Esc): the turn stops at once and the call was *aborted*.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import custom_call, exec_call, items, outputs, run_turn, server, stable, tune_config
from tests.fixtures.differential import assert_same_keys, run_both
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = [pytest.mark.reference, pytest.mark.timeout(180),
              pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")]

PATCH = "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n+two\n*** End Patch\n"
ESCALATED = {"sandbox_permissions": "require_escalated", "justification": "May I?"}


def _prepare(home: Path) -> None:
    tune_config(home, sandbox="read-only", approval="on-request")
    (home / "rules").mkdir()
    (home / "rules" / "default.rules").write_text('prefix_rule(pattern=["cat"], decision="prompt")\n')


def _prompts(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    work = home.parent / f"{home.name}-work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "x.txt").write_text("x\n")
    (work / "notes.txt").write_text("one\n")
    made = "echo made > made.txt && cat made.txt"
    turns: list[tuple[str, list[Any]]] = [
        ("accept", [exec_call("a1", made, **ESCALATED),  # accepted with its amendment (the TUI's `p`)
                    exec_call("a2", "cat x.txt", workdir="sub"),  # asked: the rule on disk
                    exec_call("a3", "cat <<'EOF'\nhi\nEOF"),  # a here-document is judged whole: not asked
                    custom_call("p1", "apply_patch", PATCH), assistant_text("done")]),
        ("decline", [exec_call("a4", made, **ESCALATED), assistant_text("again")]),  # remembered: not asked
        ("cancel", [exec_call("x1", "echo nope > nope.txt", **ESCALATED)]),
        ("cancel", [custom_call("x2", "apply_patch", PATCH.replace("+two", "+three"))]),
    ]

    def answer(request: dict[str, Any], decision: str) -> dict[str, Any]:
        if request["params"]["itemId"] == "a1":
            return {"decision": request["params"]["availableDecisions"][1]}
        return {"decision": decision}

    result: dict[str, Any] = {"turns": []}
    with server(home, command, cwd=work) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work), "model": "gpt-5.5"})["thread"]["id"]
        asked_all = []
        for decision, responses in turns:
            model.queue(*responses)
            turn, asked = run_turn(app, thread_id, "go", lambda r, d=decision: answer(r, d))
            result["turns"].append(turn["status"])
            asked_all += asked
        model.queue(assistant_text("after"))
        run_turn(app, thread_id, "and now?")
        shown = [(m["method"], m["params"]["item"]["id"], m["params"]["item"]["status"]) for m in app.messages
                 if m.get("method") in ("item/started", "item/completed")
                 and m["params"]["item"]["type"] in ("commandExecution", "fileChange")]
        result["items"] = shown
        result["actions"] = stable({i["id"]: i["commandActions"] for i in items(app, "commandExecution")}, str(work))
        result["asked"] = stable([(r["method"], r["params"]) for r in asked_all], str(work))
        app.close()
    # the write's own wall time depends on the machine (0.169 runs a helper process for it)
    result["outputs"] = {k: re.sub(r"(Wall time: |after )[0-9.]+", r"\1T", v)
                         for k, v in stable(outputs(model), str(work)).items()}
    result["files"] = {p.name: p.read_text() for p in work.iterdir() if p.is_file()}
    result["rules"] = (home / "rules" / "default.rules").read_text()
    return result


def test_prompts_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _prompts, prepare=_prepare)
    assert reference["turns"] == ["completed", "completed", "interrupted", "interrupted"]
    assert reference["files"] == {"notes.txt": "one\ntwo\n", "made.txt": "made\n"}
    assert_same_keys(reference, ours)
