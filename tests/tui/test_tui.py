"""The real Codex TUI 0.169 (``codex --remote``) drives ``rootstep app-server``.

A user's session, read off the terminal screen (``tests/fixtures/tui.py``): the TUI starts
against rootstep, a prompt streams its answer, the model calls a tool of an MCP server, Esc
interrupts a turn, ``/permissions`` switches the thread to the workspace profile, ``/status``
shows the session, ``/model`` saves a model to ``config.toml``
and the next turn uses it, ``/review`` reviews the working tree, ``/quit`` leaves, and
``codex resume`` / ``codex fork`` bring the conversation back, over ``ws://`` and
``unix://``. The model is the mock Responses endpoint; the TUI's own side requests (its task
titles) are answered by a route so they never take a scripted answer.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import descendants
from tests.fixtures.mcp_helpers import echo_server_toml
from tests.fixtures.mock_model import (
    MockModel,
    MockResponse,
    assistant_text,
    function_call_response,
    held_text,
    write_config,
)
from tests.fixtures.tui import READY, ListeningAppServer, TuiSession, git_workspace, rootstep_server_command

pytestmark = pytest.mark.timeout(180)

TITLE = "Greet the mock model"


def is_title_request(body: Any) -> bool:
    """The TUI names each task with a side thread asking for ``{"title": ...}``."""
    schema = ((body.get("text") or {}).get("format") or {}).get("schema") if isinstance(body, dict) else None
    return isinstance(schema, dict) and "title" in (schema.get("properties") or {})


def title_route(body: Any) -> MockResponse | None:
    return assistant_text(json.dumps({"title": TITLE})) if is_title_request(body) else None


def main_requests(model: MockModel) -> list[Any]:
    return [r for r in model.requests if not is_title_request(r.body)]


def no_error(screen: str) -> str:
    assert "Error" not in screen and "failed" not in screen, screen
    return screen


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A git repository with one uncommitted change (what /review looks at)."""
    work = git_workspace(tmp_path)
    (work / "notes.txt").write_text("one\ntwo\n")
    return work


@pytest.fixture
def model() -> Iterator[MockModel]:
    with MockModel(route=title_route) as server:
        yield server


def start_server(tmp_path: Path, model: MockModel, workspace: Path, transport: str) -> ListeningAppServer:
    home = tmp_path / "server-home"
    write_config(home, model, extra=echo_server_toml("echo"))
    if transport == "unix":
        # AF_UNIX paths are short: a folder of its own under /tmp.
        listen = "unix://" + str(Path(tempfile.mkdtemp(prefix="rs-tui-", dir="/tmp")) / "app.sock")
    else:
        listen = "ws://127.0.0.1:0"
    return ListeningAppServer(rootstep_server_command(), home=home, cwd=workspace, listen=listen)


def test_tui_session_over_websocket(reference_codex: Path, tmp_path: Path, model: MockModel, workspace: Path) -> None:
    before = descendants()
    server = start_server(tmp_path, model, workspace, "ws")
    server_home = tmp_path / "server-home"
    tui_home = tmp_path / "tui-home"
    try:
        with TuiSession(reference_codex, ["--remote", server.url], home=tui_home, cwd=workspace) as tui:
            no_error(tui.wait_for(READY))

            # A prompt streams its answer.
            model.queue(assistant_text("Hello from rootstep", deltas=["Hello ", "from ", "rootstep"]))
            tui.submit("Say hello")
            no_error(tui.wait_for("Hello from rootstep"))

            # The model calls the MCP echo server's tool; the call and the answer show.
            model.queue(
                function_call_response("call-echo", "echo", json.dumps({"message": "ping"}), namespace="mcp__echo"),
                assistant_text("The echo answered ping"),
            )
            tui.submit("Use the echo tool")
            screen = tui.wait_for("The echo answered ping")
            assert "Called echo.echo" in screen and "ECHOING: ping" in screen, screen

            # Esc interrupts a streaming turn.
            held = held_text("A slow answer", deltas=["A slow ", "answer"])
            model.queue(held)
            tui.submit("Take your time")
            assert held.reached_hold.wait(30)
            tui.wait_for("A slow")
            tui.send("\x1b")
            tui.wait_for("Conversation interrupted")
            held.release()

            # /permissions applies to the thread; /status shows the session as the server reports it.
            tui.command("/permissions")
            tui.wait_for("Update Model Permissions")
            tui.send("1")  # Ask for approval (the :workspace profile)
            tui.wait_for("Permission selection requested")
            tui.command("/status")
            screen = no_error(tui.wait_for("Context window:"))
            assert "mock_provider" in screen and "258K" in screen, screen
            assert "Workspace (Ask for approval)" in screen, screen

            # /model: saved in config.toml and applied to the thread's next turn.
            tui.command("/model")
            tui.wait_for("gpt-5.1-codex-mini")
            tui.send("2")  # gpt-5.1-codex
            tui.wait_for("Select Reasoning Level")
            tui.send("3")  # High
            no_error(tui.wait_for("Model changed to gpt-5.1-codex high"))
            saved = tomllib.loads((server_home / "config.toml").read_text())
            assert (saved["model"], saved["model_reasoning_effort"]) == ("gpt-5.1-codex", "high")
            assert saved["model_providers"]["mock_provider"]["name"] == "Mock provider for test"  # the rest kept
            model.queue(assistant_text("Answered by the new model"))
            tui.submit("Which model?")
            tui.wait_for("Answered by the new model")
            last = main_requests(model)[-1].body
            assert (last["model"], last["reasoning"]["effort"]) == ("gpt-5.1-codex", "high")

            # /review of the uncommitted change.
            review = {
                "findings": [{
                    "title": "[P2] Second line lacks a test", "body": "Nothing covers the new line.",
                    "confidence_score": 0.6, "priority": 2,
                    "code_location": {"absolute_file_path": str(workspace / "notes.txt"),
                                      "line_range": {"start": 2, "end": 2}},
                }],
                "overall_correctness": "patch is correct",
                "overall_explanation": "One small gap.",
                "overall_confidence_score": 0.7,
            }
            model.queue(assistant_text(json.dumps(review)))
            tui.command("/review")
            tui.wait_for("Review uncommitted changes")
            tui.send("2")
            screen = no_error(tui.wait_for("Code review finished"))
            tui.wait_for("[P2] Second line lacks a test")
            review_request = main_requests(model)[-1]
            assert review_request.input_texts()[-1].startswith("Review the current code changes")

            tui.command("/quit")
            assert tui.wait_exit() == 0

        # codex resume shows the conversation.
        with TuiSession(reference_codex, ["resume", "--last", "--remote", server.url], home=tui_home,
                        cwd=workspace) as tui:
            # The history is drawn in order: the review's outcome is its last part.
            screen = tui.wait_for("One small gap.")
            assert "Which model?" in screen and "Answered by the new model" in screen, screen
            no_error(tui.wait_for(READY))
            tui.command("/quit")
            assert tui.wait_exit() == 0

        # codex fork starts a new thread with the same conversation.
        with TuiSession(reference_codex, ["fork", "--last", "--remote", server.url], home=tui_home,
                        cwd=workspace) as tui:
            tui.wait_for("Answered by the new model")
            model.queue(assistant_text("Answer in the fork"))
            tui.submit("Continue in the fork")
            no_error(tui.wait_for("Answer in the fork"))
            tui.command("/quit")
            assert tui.wait_exit() == 0
        metas = [json.loads(path.read_text().splitlines()[0])["payload"]
                 for path in (server_home / "sessions").rglob("rollout-*.jsonl")]
        # The thread and its fork (the TUI's title threads are ephemeral).
        assert sorted(m["forked_from_id"] is not None for m in metas) == [False, True]
        # The fork's model saw the original conversation before the new prompt.
        fork_texts = main_requests(model)[-1].input_texts()
        assert fork_texts[-1] == "Continue in the fork" and "Say hello" in fork_texts, fork_texts
    finally:
        assert server.stop() == 0
    assert descendants() - before == set()


def test_tui_session_over_unix_socket(reference_codex: Path, tmp_path: Path, model: MockModel, workspace: Path) -> None:
    before = descendants()
    server = start_server(tmp_path, model, workspace, "unix")
    tui_home = tmp_path / "tui-home"
    try:
        with TuiSession(reference_codex, ["--remote", server.url], home=tui_home, cwd=workspace) as tui:
            no_error(tui.wait_for(READY))
            model.queue(assistant_text("Hello over a unix socket", deltas=["Hello ", "over a unix socket"]))
            tui.submit("Say hello")
            no_error(tui.wait_for("Hello over a unix socket"))
            tui.command("/quit")
            assert tui.wait_exit() == 0
        with TuiSession(reference_codex, ["resume", "--last", "--remote", server.url], home=tui_home,
                        cwd=workspace) as tui:
            tui.wait_for("Hello over a unix socket")
            tui.command("/quit")
            assert tui.wait_exit() == 0
    finally:
        assert server.stop() == 0
        Path(server.url.removeprefix("unix://")).parent.rmdir()
    assert descendants() - before == set()
