"""Files a client names: ``thread/resume`` / ``thread/fork`` ``path`` and the ``localImage`` /
``skill`` turn inputs (issue 16, item 9).

``/dev/zero`` was read into memory and a FIFO froze the event loop. Now they are refused before
anything is read, in codex 0.169's words for the rollout path (checked against the binary:
``-32600 failed to resolve rollout path `P`: path is not a file`` / ``path is a directory`` /
``file does not exist``); a rollout over 512 MiB is refused too (0.169 reads it for ever). Turn
inputs that cannot be read become the usual placeholder text and the turn completes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import reference_codex_path
from tests.fixtures.app_server import AppServerProcess, text
from tests.fixtures.mock_model import MockModel
from tests.security.conftest import capped_rootstep, make_fifo, make_sparse

REFERENCE = "reference"


@pytest.fixture(params=["rootstep", REFERENCE])
def server(request: pytest.FixtureRequest, codex_home: Path) -> Iterator[AppServerProcess]:
    if request.param == REFERENCE:
        path = reference_codex_path()
        if path is None:
            request.getfixturevalue("reference_codex")  # skips with the reason
        command = [str(path), "app-server", "--listen", "stdio://"]
    else:
        command = capped_rootstep()
    with AppServerProcess(codex_home, command=command, validate=request.param != REFERENCE) as app:
        app.initialize()
        app.kind = request.param  # type: ignore[attr-defined]
        yield app


def test_resume_and_fork_refuse_paths_that_are_not_rollouts(server: AppServerProcess, tmp_path: Path) -> None:
    fifo = make_fifo(tmp_path / "rollout-fifo.jsonl")
    cases = {
        "/dev/zero": "path is not a file",
        str(fifo): "path is not a file",
        str(tmp_path): "path is a directory",
        str(tmp_path / "missing.jsonl"): "file does not exist",
    }
    if server.kind != REFERENCE:  # type: ignore[attr-defined]
        # 0.169 reads such a file for ever; rootstep refuses it.
        huge = make_sparse(tmp_path / "rollout-huge.jsonl", 600 * 1024 * 1024)
        cases[str(huge)] = "file is too large to read: limit is 536870912 bytes"
    thread_id = str(uuid.uuid4())
    for path, reason in cases.items():
        for method in ("thread/resume", "thread/fork"):
            error = server.call_error(method, {"threadId": thread_id, "path": path}, timeout=30)
            assert (error.code, error.message) == (-32600, f"failed to resolve rollout path `{path}`: {reason}")
    assert server.call("thread/start", {})["thread"]["id"]  # still serving


def test_turn_inputs_naming_hostile_files_become_placeholders(
    codex_home: Path, model: MockModel, tmp_path: Path
) -> None:
    fifo = make_fifo(tmp_path / "image.png")
    skill_fifo = make_fifo(tmp_path / "skill" / "SKILL.md")
    huge_skill = make_sparse(tmp_path / "huge" / "SKILL.md", 600 * 1024 * 1024)
    with AppServerProcess(codex_home, command=capped_rootstep()) as app:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]
        inputs = [
            text("look"),
            {"type": "localImage", "path": "/dev/zero"},
            {"type": "localImage", "path": str(fifo)},
            {"type": "skill", "name": "fifo", "path": str(skill_fifo)},
            {"type": "skill", "name": "huge", "path": str(huge_skill)},
        ]
        turn = app.call("turn/start", {"threadId": thread["id"], "input": inputs})["turn"]
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=60)
        assert done["params"]["turn"]["status"] == "completed"
        sent = str(model.requests[-1].body["input"])
        assert "(image /dev/zero unreadable: path `/dev/zero` is not a file)" in sent
        assert f"(image {fifo} unreadable: path `{fifo}` is not a file)" in sent
        assert f"(could not read {skill_fifo}: path `{skill_fifo}` is not a file)" in sent
        assert f"(could not read {huge_skill}: file is too large to read: limit is 536870912 bytes)" in sent
        app.assert_schema_clean()
