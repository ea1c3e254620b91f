"""apply_patch as the model sends it: a heredoc through exec_command (models 0.169 has no
metadata for, like mock-model) or the freeform tool (catalog models, like gpt-5.5), applied in
the thread's primary environment; the fileChange items, the turn's diff against ``git diff``,
and patches that do not apply."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.agent_e2e.helpers import (
    ROOTSTEP_EXEC_SERVER,
    agent_home,
    custom_call,
    exec_call,
    heredoc,
    items,
    outputs,
    run_turn,
    server,
    write_executor,
)
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = pytest.mark.timeout(120)

CHANGE = ("*** Begin Patch\n*** Add File: a.txt\n+alpha\n*** Update File: b.txt\n@@\n-b1\n+B1\n"
          "*** Delete File: c.txt\n*** End Patch")
BROKEN = "*** Begin Patch\n*** Add File: never.txt\n+no\n*** Update File: b.txt\n@@\n-zzz\n+x\n*** End Patch"
SUCCESS = "Success. Updated the following files:\nA a.txt\nM b.txt\nD c.txt\n"


def _git(work: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=work, check=True,
                          capture_output=True, text=True).stdout


def _repo(work: Path) -> None:
    work.mkdir(parents=True)
    (work / "b.txt").write_text("b1\nb2\n")
    (work / "c.txt").write_text("gone\n")
    _git(work, "init", "-q")
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "base")


def _call(slug: str, call_id: str, patch: str) -> Any:
    return custom_call(call_id, "apply_patch", patch) if slug == "gpt-5.5" else exec_call(call_id, heredoc(patch))


@pytest.mark.parametrize("slug", ["mock-model", "gpt-5.5"])
def test_a_patch_adds_updates_and_deletes_and_the_turn_diff_is_git_diff(
    tmp_path: Path, model: MockModel, slug: str
) -> None:
    home = agent_home(tmp_path / "home", model)
    work = tmp_path / "repo"
    _repo(work)
    model.queue(_call(slug, "p1", BROKEN), _call(slug, "p2", CHANGE), assistant_text("done"))
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work), "model": slug})["thread"]["id"]
        turn, _ = run_turn(app, thread_id, "go")
        assert turn["status"] == "completed"
        offered = [t.get("name") for t in model.requests[0].body["tools"]]
        assert ("apply_patch" in offered) == (slug == "gpt-5.5")
        changes = items(app, "fileChange")
        diffs = [m["params"]["diff"] for m in app.notifications("turn/diff/updated")]
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    # the broken patch changed nothing (not even its Add File)
    assert got["p1"] == f"apply_patch verification failed: Failed to find expected lines in {work / 'b.txt'}:\nzzz"
    assert not (work / "never.txt").exists()
    assert got["p2"].endswith(SUCCESS)
    assert got["p2"].startswith("Wall time: " if slug == "mock-model" else "Exit code: 0")
    assert (work / "a.txt").read_text() == "alpha\n" and (work / "b.txt").read_text() == "B1\nb2\n"
    assert not (work / "c.txt").exists()
    [item] = changes
    assert item["id"] == "p2" and item["status"] == "completed"
    assert [(c["path"], c["kind"]["type"]) for c in item["changes"]] == [
        (str(work / "a.txt"), "add"), (str(work / "b.txt"), "update"), (str(work / "c.txt"), "delete")]
    assert item["changes"][1]["diff"] == "@@ -1,2 +1,2 @@\n-b1\n+B1\n b2\n"
    # after the patch, at the end of its step and at the end of the last step, as 0.169
    assert len(diffs) == 3 and len(set(diffs)) == 1
    _git(work, "add", "-A")
    expected = re.sub(r"^(index \w+\.\.\w+) 100644$", r"\1", _git(work, "diff", "--cached", "--full-index"), flags=re.M)
    assert diffs[0] == expected


@pytest.mark.parametrize("slug", ["mock-model", "gpt-5.5"])
def test_a_patch_applies_in_the_executor(tmp_path: Path, model: MockModel, slug: str) -> None:
    home = agent_home(tmp_path / "home", model)
    write_executor(home, ROOTSTEP_EXEC_SERVER)
    work = tmp_path / "executor-side"
    work.mkdir()
    (work / "b.txt").write_text("b1\nb2\n")
    (work / "c.txt").write_text("gone\n")
    model.queue(_call(slug, "p1", CHANGE), assistant_text("done"))
    with server(home) as app:
        app.initialize()
        selection = [{"environmentId": "exec-1", "cwd": str(work)}]
        thread_id = app.call("thread/start", {"model": slug, "environments": selection}, timeout=60)["thread"]["id"]
        assert run_turn(app, thread_id, "go")[0]["status"] == "completed"
        diff = app.notifications("turn/diff/updated")[-1]["params"]["diff"]
        app.assert_schema_clean()
        assert app.close() == 0
    assert outputs(model)["p1"].endswith(SUCCESS)
    assert (work / "a.txt").read_text() == "alpha\n" and (work / "b.txt").read_text() == "B1\nb2\n"
    assert not (work / "c.txt").exists()
    assert "+alpha\n" in diff and "-b1\n+B1\n" in diff and "deleted file mode 100644" in diff
