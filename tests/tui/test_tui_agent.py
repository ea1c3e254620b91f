"""The real Codex TUI 0.169 (``codex --remote``) with rootstep's own agent tools.

A user's session read off the screen (``tests/fixtures/tui.py``), over ``ws://``: the model
runs a command that needs approval — the prompt offers to run it, to remember it, or to stop;
``y`` runs it and its output shows; Esc on the next prompt stops the turn, nothing runs and the
model is told the call was aborted; an ``apply_patch`` edit asks in turn, ``y`` writes the file and
its diff shows; ``/diff`` pages the working tree's git diff (run through ``command/exec``).

The thread runs ``gpt-5.5`` (a catalog model that gets ``apply_patch`` as a freeform tool) in a
read-only sandbox with approvals ``on-request``: escalated commands and every edit ask first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import custom_call, exec_call, tune_config
from tests.conftest import descendants
from tests.fixtures.mock_model import MockModel, MockResponse, assistant_text, write_config
from tests.fixtures.tui import READY, ListeningAppServer, TuiSession, git_workspace, rootstep_server_command
from tests.tui.test_tui import main_requests, no_error, title_route

pytestmark = [
    pytest.mark.reference,
    pytest.mark.timeout(180),
    # /diff's git runs in the server's read-only sandbox
    pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}"),
]

PATCH = "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n+two\n*** End Patch\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A git repository with one committed file."""
    return git_workspace(tmp_path)


@pytest.fixture
def model() -> Iterator[MockModel]:
    with MockModel(route=title_route) as server:
        yield server


def escalated(call_id: str, cmd: str, why: str) -> MockResponse:
    return exec_call(call_id, cmd, sandbox_permissions="require_escalated", justification=why)


def call_output(model: MockModel, call_id: str) -> str:
    """What the model's latest request says the call returned."""
    body = main_requests(model)[-1].body
    return next(item["output"] for item in body["input"]
                if item.get("type") == "function_call_output" and item["call_id"] == call_id)


def test_tui_approves_commands_and_edits(reference_codex: Path, tmp_path: Path, model: MockModel,
                                         workspace: Path) -> None:
    before = descendants()
    home = tmp_path / "server-home"
    write_config(home, model)
    tune_config(home, sandbox="read-only", approval="on-request")
    config = home / "config.toml"
    config.write_text(config.read_text().replace('model = "mock-model"', 'model = "gpt-5.5"'))
    server = ListeningAppServer(rootstep_server_command(), home=home, cwd=workspace, listen="ws://127.0.0.1:0")
    try:
        with TuiSession(reference_codex, ["--remote", server.url], home=tmp_path / "tui-home", cwd=workspace) as tui:
            no_error(tui.wait_for(READY))

            # A command that asks: the prompt shows it, why, and the three choices; y runs it.
            model.queue(escalated("c1", "echo made > made.txt && cat made.txt", "Make made.txt"),
                        assistant_text("Command done"))
            tui.submit("Run a command")
            screen = tui.wait_for("Would you like to run the following command?")
            assert "Reason: Make made.txt" in screen and "$ echo made > made.txt && cat made.txt" in screen, screen
            assert "1. Yes, proceed (y)" in screen, screen
            assert "don't ask again for commands that start with `echo made > made.txt && cat made.txt` (p)" in screen
            assert "3. No, and tell Codex what to do differently (esc)" in screen, screen
            assert not (workspace / "made.txt").exists()  # nothing runs before the answer
            tui.send("y")
            screen = no_error(tui.wait_for("Command done"))
            assert "You approved codex to run echo made > made.txt && cat made.txt this time" in screen, screen
            assert re.search(r"Ran echo made > made\.txt && cat made\.txt\n\s+└ made\n", screen), screen
            assert (workspace / "made.txt").read_text() == "made\n"

            # Esc on the next prompt: nothing runs, the turn stops, the model hears it was aborted.
            model.queue(escalated("c2", "echo nope > nope.txt", "Make nope.txt"))
            tui.submit("Run another")
            tui.wait_for("$ echo nope > nope.txt")
            tui.send("\x1b")
            screen = tui.wait_for("Conversation interrupted")
            assert "You canceled the request to run echo nope > nope.txt" in screen, screen
            assert not (workspace / "nope.txt").exists()

            # An edit asks too; y writes it and the edited file shows.
            model.queue(custom_call("p1", "apply_patch", PATCH), assistant_text("Patch done"))
            tui.submit("Edit notes")
            screen = tui.wait_for("Would you like to make the following edits?")
            assert f"Destination: {workspace / 'notes.txt'}" in screen and "Edited notes.txt (+1 -0)" in screen, screen
            assert re.fullmatch(r"Wall time: \d+\.\d seconds\naborted by user", call_output(model, "c2"))
            assert (workspace / "notes.txt").read_text() == "one\n"
            tui.send("y")
            screen = no_error(tui.wait_for("Patch done"))
            assert re.search(r"Edited notes\.txt \(\+1 -0\)\n\s+2 \+two\n", screen), screen
            assert (workspace / "notes.txt").read_text() == "one\ntwo\n"

            # /diff: the working tree's changes, the untracked file included, in a pager.
            tui.command("/diff")
            screen = no_error(tui.wait_for("diff --git a/notes.txt b/notes.txt"))
            tui.wait_for("+++ b/made.txt")
            screen = tui.text()
            assert re.search(r"@@ -1 \+1,2 @@\n one\n\+two\n", screen), screen
            assert "+made" in screen and "nope.txt" not in screen, screen
            tui.send("q")
            tui.wait_for(READY)
            tui.command("/quit")
            assert tui.wait_exit() == 0
        patch_output = json.dumps(main_requests(model)[-1].body["input"])
        assert "Success. Updated the following files:\\nM notes.txt" in patch_output
    finally:
        assert server.stop() == 0
    assert descendants() - before == set()
