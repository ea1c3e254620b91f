"""Differential: the same scenarios against the reference `codex app-server` 0.169 and rootstep.

Transcripts are normalized to the methods rootstep implements (the reference also emits
connection extras such as ``remoteControl/status/changed``, ``account/rateLimits/updated``,
``thread/readState/changed``, ``warning``, ``configWarning``) and compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.differential import assert_same_transcript, run_both
from tests.fixtures.mock_model import MockModel, assistant_text, failed_response

pytestmark = [pytest.mark.reference, pytest.mark.timeout(120)]

COMPARED = {
    "thread/started", "thread/status/changed", "turn/started", "turn/completed", "item/started",
    "item/completed", "item/agentMessage/delta", "thread/tokenUsage/updated", "error",
}


def _scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(assistant_text("Hello there", deltas=["Hello", " there"], usage=(3, 2)), failed_response("nope"))
    with AppServerProcess(home, command=command) as app:
        early = app.call_error("thread/start", {})
        app.initialize()
        unknown = app.call_error("no/such", {})
        thread = app.call("thread/start", {"model": "mock-model"})
        thread_id = thread["thread"]["id"]
        interrupt = app.call_error("turn/interrupt", {"threadId": thread_id, "turnId": "x"})
        ok = app.run_turn(thread_id, "hi")
        failed = app.run_turn(thread_id, "again")
        transcript = []
        for message in app.messages:
            method = message.get("method")
            if method in COMPARED:
                params = message["params"]
                item = params.get("item") or {}
                transcript.append((method, item.get("type"), (params.get("turn") or {}).get("status")))
        app.assert_schema_clean()
        app.close()
    return {
        "early": (early.code, early.message),
        "unknown": (unknown.code, unknown.message.split(",")[0]),
        "interrupt": (interrupt.code, interrupt.message),
        "ok": (ok["status"], ok.get("error")),
        "failed_status": failed["status"],
        "failed_has_message": bool(failed["error"]["message"]),
        "sandbox": thread["sandbox"],
        "approval": thread["approvalPolicy"],
        "transcript": transcript,
        "texts": model.requests[-1].input_texts()[-2:],
    }


def test_same_transcript_as_reference(reference_codex: Path, tmp_path: Path) -> None:
    ref, ours = run_both(reference_codex, tmp_path, _scenario)
    assert ours["early"] == ref["early"] == (-32600, "Not initialized")
    assert ours["unknown"] == ref["unknown"]
    assert ours["interrupt"] == ref["interrupt"]
    assert ours["ok"] == ref["ok"]
    assert ours["failed_status"] == ref["failed_status"] == "failed"
    assert ours["failed_has_message"] and ref["failed_has_message"]
    assert ours["sandbox"] == ref["sandbox"] and ours["approval"] == ref["approval"]
    assert ours["texts"] == ref["texts"]
    assert ours["transcript"] == ref["transcript"], "\n".join(
        f"{a} | {b}" for a, b in __import__("itertools").zip_longest(ours["transcript"], ref["transcript"]))



def _interrupt_scenario(command: list[str], home: Path, model: MockModel) -> list[Any]:
    from tests.fixtures.app_server import text
    from tests.fixtures.mock_model import held_text

    held = held_text("stopped", deltas=["sto", "pped"])
    model.queue(held)
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        turn = app.call("turn/start", {"threadId": thread_id, "input": [text("long")]})["turn"]
        assert held.reached_hold.wait(30)
        app.wait_notification("item/agentMessage/delta")
        req = app.request("turn/interrupt", {"threadId": thread_id, "turnId": turn["id"]})
        app.wait_notification("turn/completed")
        app.wait_response(req, timeout=5)
        out: list[Any] = []
        start = next(i for i, m in enumerate(app.messages) if m.get("method") == "turn/started")
        for message in app.messages[start:]:
            method = message.get("method")
            if method is None and message.get("id") == req:
                out.append(("interrupt-response", message.get("result")))
            elif method in COMPARED and method != "item/agentMessage/delta":
                params = message["params"]
                out.append((method, (params.get("item") or {}).get("type"), (params.get("turn") or {}).get("status")))
        app.assert_schema_clean()
        app.close()
    return out


def test_interrupt_transcript_matches_reference(reference_codex: Path, tmp_path: Path) -> None:
    assert_same_transcript(*run_both(reference_codex, tmp_path, _interrupt_scenario))


def _resume_scenario(command: list[str], home: Path, model: MockModel) -> list[Any]:
    model.queue(assistant_text("first", usage=(4, 1)), assistant_text("second"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        app.run_turn(thread_id, "one")
        app.close()
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        req = app.request("thread/resume", {"threadId": thread_id})
        response = app.wait_response(req)
        turns = response["result"]["thread"]["turns"]
        app.run_turn(thread_id, "two")
        out: list[Any] = [("turns", len(turns), [i["type"] for i in turns[0]["items"]], turns[0]["status"])]
        for message in app.messages:
            method = message.get("method")
            if message is response:
                out.append(("resume-response",))
            elif method in COMPARED:
                params = message["params"]
                out.append((method, (params.get("item") or {}).get("type"), (params.get("turn") or {}).get("status")))
        app.assert_schema_clean()
        app.close()
    out.append(("texts", model.requests[-1].input_texts()[-2:]))
    return out


def test_resume_transcript_matches_reference(reference_codex: Path, tmp_path: Path) -> None:
    assert_same_transcript(*run_both(reference_codex, tmp_path, _resume_scenario))


def _steer_scenario(command: list[str], home: Path, model: MockModel) -> list[Any]:
    from tests.fixtures.app_server import text
    from tests.fixtures.mock_model import held_text

    held = held_text("working", deltas=["wor", "king"])
    model.queue(held, assistant_text("steered"))
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        turn = app.call("turn/start", {"threadId": thread_id, "input": [text("start")]})["turn"]
        assert held.reached_hold.wait(30)
        app.wait_notification("item/agentMessage/delta")
        steer = app.call("turn/steer", {"threadId": thread_id, "expectedTurnId": turn["id"], "input": [text("more")]})
        held.release()
        done = app.wait_notification("turn/completed")
        out: list[Any] = [("steer", steer == {"turnId": turn["id"]}), ("status", done["params"]["turn"]["status"])]
        for message in app.messages:
            method = message.get("method")
            if method in COMPARED and method != "item/agentMessage/delta":
                params = message["params"]
                item = params.get("item") or {}
                out.append((method, item.get("type"), (params.get("turn") or {}).get("status")))
        app.assert_schema_clean()
        app.close()
    out.append(("requests", len(model.requests), model.requests[-1].input_texts()[-2:]))
    return out


def test_steer_transcript_matches_reference(reference_codex: Path, tmp_path: Path) -> None:
    assert_same_transcript(*run_both(reference_codex, tmp_path, _steer_scenario))
