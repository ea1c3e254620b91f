"""Start a thread, run turns, stream: the app-server as a subprocess over stdio."""

from __future__ import annotations

import pytest

from tests.fixtures.app_server import AppServerProcess, text
from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    failed_response,
    function_call_response,
    held_text,
    http_error,
)

pytestmark = pytest.mark.timeout(90)


def _start(app: AppServerProcess, **params) -> dict:
    return app.call("thread/start", {"model": "mock-model", **params})


def test_thread_start_then_turn_streams_in_protocol_order(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("Hello there", deltas=["Hello", " there"], usage=(11, 4)))
    started = _start(app)
    thread = started["thread"]
    assert started["model"] == "mock-model" and started["modelProvider"] == "mock_provider"
    assert started["approvalPolicy"] == "never"
    assert started["sandbox"] == {"type": "readOnly", "networkAccess": False}
    assert thread["status"] == {"type": "idle"} and thread["turns"] == []
    # response first, then thread/started
    note = app.wait_notification("thread/started")
    assert note["params"]["thread"]["id"] == thread["id"]

    req = app.request("turn/start", {"threadId": thread["id"], "input": [text("Say hello")]})
    response = app.wait_response(req)
    turn = response["result"]["turn"]
    assert turn["status"] == "inProgress" and turn["items"] == []
    done = app.wait_notification("turn/completed")
    assert done["params"]["turn"]["status"] == "completed"
    assert done["params"]["turn"]["id"] == turn["id"]

    order = [m.get("method", "<response>") for m in app.messages[app.index_of(response):]]
    assert order == [
        "<response>",
        "thread/status/changed",
        "turn/started",
        "item/started",  # userMessage
        "item/completed",
        "item/started",  # agentMessage
        "item/agentMessage/delta",
        "item/agentMessage/delta",
        "item/completed",
        "thread/tokenUsage/updated",
        "account/rateLimits/updated",
        "thread/readState/changed",
        "thread/status/changed",
        "turn/completed",
    ]
    deltas = [m["params"]["delta"] for m in app.notifications("item/agentMessage/delta")]
    assert "".join(deltas) == "Hello there"
    completed_items = [m["params"]["item"] for m in app.notifications("item/completed")]
    assert completed_items[0]["type"] == "userMessage"
    assert completed_items[0]["content"] == [{"type": "text", "text": "Say hello", "text_elements": []}]
    assert completed_items[1] == {**completed_items[1], "type": "agentMessage", "text": "Hello there"}
    usage = app.notifications("thread/tokenUsage/updated")[0]["params"]["tokenUsage"]
    assert usage["last"]["inputTokens"] == 11 and usage["total"]["outputTokens"] == 4
    assert all(isinstance(m.get("emittedAtMs"), int) for m in app.notifications())

    body = model.requests[0].body
    assert body["model"] == "mock-model" and body["stream"] is True
    assert model.requests[0].input_texts()[-1] == "Say hello"


def test_second_turn_sends_history_and_turn_model_override(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("first answer"), assistant_text("second answer"))
    thread = _start(app)["thread"]
    app.run_turn(thread["id"], "one")
    app.run_turn(thread["id"], "two", model="other-model")
    second = model.requests[1]
    assert second.body["model"] == "other-model"
    assert second.input_texts() == ["one", "two"]
    assistant = [i for i in second.body["input"] if i.get("role") == "assistant"]
    assert assistant and assistant[0]["content"][0]["text"] == "first answer"


def test_unknown_function_call_gets_unsupported_output(app: AppServerProcess, model: MockModel) -> None:
    model.queue(
        function_call_response("call-9", "mystery", '{"x":1}', namespace="mcp__nowhere"),
        assistant_text("done"),
    )
    thread = _start(app)["thread"]
    turn = app.run_turn(thread["id"], "call something")
    assert turn["status"] == "completed"
    follow_up = model.requests[1]
    call = follow_up.items_of_type("function_call")[0]
    assert call["namespace"] == "mcp__nowhere" and call["call_id"] == "call-9"
    output = follow_up.items_of_type("function_call_output")[0]
    assert output == {"type": "function_call_output", "call_id": "call-9",
                      "output": "unsupported call: mcp__nowheremystery"}


def test_model_failure_fails_the_turn_and_thread_keeps_working(app: AppServerProcess, model: MockModel) -> None:
    model.queue(failed_response("the model is on fire"), http_error(500, "upstream down"), assistant_text("fine"))
    thread = _start(app)["thread"]
    failed = app.run_turn(thread["id"], "first")
    assert failed["status"] == "failed"
    assert "the model is on fire" in failed["error"]["message"]
    err = app.wait_notification("error")
    assert err["params"]["error"]["message"] == failed["error"]["message"] and err["params"]["willRetry"] is False

    down = app.run_turn(thread["id"], "second")
    assert down["status"] == "failed" and "upstream down" in down["error"]["message"]

    ok = app.run_turn(thread["id"], "third")
    assert ok["status"] == "completed"
    assert model.requests[2].input_texts() == ["first", "second", "third"]


def test_endpoint_unreachable_fails_turn(tmp_path, model: MockModel) -> None:
    from tests.fixtures.mock_model import write_config

    home = tmp_path / "down"
    write_config(home, "http://127.0.0.1:9/v1")  # discard port: connection refused
    with AppServerProcess(home) as app:
        app.initialize()
        thread = _start(app)["thread"]
        turn = app.run_turn(thread["id"], "anyone there?")
        assert turn["status"] == "failed" and turn["error"]["message"]
        app.assert_schema_clean()
        assert app.close() == 0


def test_interrupt_cancels_in_flight_request(app: AppServerProcess, model: MockModel) -> None:
    held = held_text("never finished", deltas=["never", " finished"])
    model.queue(held, assistant_text("after"))
    thread = _start(app)["thread"]
    turn = app.call("turn/start", {"threadId": thread["id"], "input": [text("long")]})["turn"]
    app.wait_notification("item/agentMessage/delta")
    assert held.reached_hold.wait(10)
    req = app.request("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]})
    response = app.wait_response(req)
    assert response["result"] == {}
    done = app.wait_notification("turn/completed")
    assert done["params"]["turn"]["status"] == "interrupted"
    assert app.index_of(response) < app.index_of(done)
    # the HTTP request was dropped at once, not finished
    assert held.disconnected.wait(10)
    # like the reference, the partially streamed message is not completed...
    agent = [m for m in app.notifications("item/completed") if m["params"]["item"]["type"] == "agentMessage"]
    assert agent == []
    assert app.run_turn(thread["id"], "again")["status"] == "completed"
    # ...but the model is told what it had already said
    assistant = [i for i in model.requests[1].body["input"] if i.get("role") == "assistant"]
    assert assistant[0]["content"][0]["text"] == "never"


def test_interrupt_errors(app: AppServerProcess, model: MockModel) -> None:
    thread = _start(app)["thread"]
    err = app.call_error("turn/interrupt", {"threadId": thread["id"], "turnId": "nope"})
    assert err.code == -32600 and err.message == "no active turn to interrupt"
    held = held_text("x", deltas=["x", ""])
    model.queue(held)
    turn = app.call("turn/start", {"threadId": thread["id"], "input": [text("go")]})["turn"]
    assert held.reached_hold.wait(10)
    err = app.call_error("turn/interrupt", {"threadId": thread["id"], "turnId": "other"})
    assert err.message == f"expected active turn id other but found {turn['id']}"
    app.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]})


def test_steer_adds_input_to_the_running_turn(app: AppServerProcess, model: MockModel) -> None:
    held = held_text("working on it", deltas=["working", " on it"])
    model.queue(held, assistant_text("steered answer"))
    thread = _start(app)["thread"]
    turn = app.call("turn/start", {"threadId": thread["id"], "input": [text("start")]})["turn"]
    assert held.reached_hold.wait(10)
    app.wait_notification("item/agentMessage/delta")  # the first words reached rootstep
    result = app.call("turn/steer", {"threadId": thread["id"], "expectedTurnId": turn["id"],
                                     "input": [text("also this")]})
    assert result == {"turnId": turn["id"]}
    done = app.wait_notification("turn/completed")
    assert done["params"]["turn"]["status"] == "completed"
    # like codex 0.169 the in-flight sample is dropped at once and the model asked again
    assert held.disconnected.wait(10)
    assert len(model.requests) == 2
    assert model.requests[1].input_texts() == ["start", "also this"]
    assistant = [i for i in model.requests[1].body["input"] if i.get("role") == "assistant"]
    assert assistant[0]["content"][0]["text"] == "working"
    err = app.call_error("turn/steer", {"threadId": thread["id"], "expectedTurnId": turn["id"],
                                        "input": [text("late")]})
    assert err.message == "no active turn to steer"


def test_turn_start_unknown_thread(app: AppServerProcess) -> None:
    err = app.call_error("turn/start", {"threadId": "0199a000-0000-7000-8000-000000000000", "input": [text("x")]})
    assert err.code == -32600 and err.message == "thread not found: 0199a000-0000-7000-8000-000000000000"


def test_opt_out_notifications(codex_home, model: MockModel) -> None:
    model.queue(assistant_text("quiet", deltas=["qu", "iet"]))
    with AppServerProcess(codex_home) as app:
        app.initialize(opt_out=["item/agentMessage/delta", "thread/started"])
        thread = _start(app)["thread"]
        app.run_turn(thread["id"], "hush")
        assert app.notifications("item/agentMessage/delta") == []
        assert app.notifications("thread/started") == []
        assert app.notifications("item/completed")
        app.assert_schema_clean()
        assert app.close() == 0


def test_thread_start_environment_selection(app: AppServerProcess, tmp_path) -> None:
    cwd = str(tmp_path.resolve())
    started = app.call("thread/start", {"cwd": cwd})
    assert started["cwd"] == cwd and started["runtimeWorkspaceRoots"] == [cwd]
    assert started["thread"]["environments"] == [{"environmentId": "local", "cwd": cwd, "runtimeWorkspaceRoots": [cwd]}]
    none = app.call("thread/start", {"cwd": cwd, "environments": []})
    assert none["thread"]["environments"] == [] and none["runtimeWorkspaceRoots"] == []
    resumed_env = app.call("thread/read", {"threadId": started["thread"]["id"]})["thread"]
    assert resumed_env["environments"][0]["environmentId"] == "local"


def test_turn_extras_client_id_and_output_schema(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text('{"answer": 42}'), assistant_text("plain"))
    thread = _start(app)["thread"]
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
              "additionalProperties": False}
    app.run_turn(thread["id"], "structured please", outputSchema=schema, clientUserMessageId="client-msg-1")
    user = [m["params"]["item"] for m in app.notifications("item/completed")
            if m["params"]["item"]["type"] == "userMessage"]
    assert user[0]["clientId"] == "client-msg-1"
    assert model.requests[0].body["text"]["format"]["schema"] == schema
    app.run_turn(thread["id"], "free text")
    assert "text" not in model.requests[1].body  # the schema applied to that turn only


def test_compact_replaces_history_with_a_summary(app: AppServerProcess, model: MockModel) -> None:
    model.queue(assistant_text("the colour is blue"), assistant_text("User said colour is blue."),
                assistant_text("blue"))
    thread = _start(app)["thread"]
    app.run_turn(thread["id"], "my colour is blue")
    assert app.call("thread/compact/start", {"threadId": thread["id"]}) == {}
    done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["status"] == "completed"
                                 and m is not app.notifications("turn/completed")[0])
    items = [m["params"]["item"]["type"] for m in app.notifications("item/completed")
             if m["params"]["turnId"] == done["params"]["turn"]["id"]]
    assert items == ["contextCompaction"]
    assert len(model.requests) == 2
    app.run_turn(thread["id"], "what colour?")
    texts = model.requests[2].input_texts()
    assert texts[0].endswith("User said colour is blue.") and texts[-1] == "what colour?"
    assert "my colour is blue" not in texts


def test_turn_level_environments_persist(app: AppServerProcess, model: MockModel, tmp_path) -> None:
    model.queue(assistant_text("ok"))
    thread_id = _start(app)["thread"]["id"]
    other = str(tmp_path.resolve())
    app.run_turn(thread_id, "elsewhere", environments=[{"environmentId": "local", "cwd": other}])
    read = app.call("thread/read", {"threadId": thread_id})["thread"]
    assert read["environments"] == [{"environmentId": "local", "cwd": other, "runtimeWorkspaceRoots": [other]}]
    app.call("thread/unsubscribe", {"threadId": thread_id})
    resumed = app.call("thread/resume", {"threadId": thread_id})
    assert resumed["thread"]["environments"][0]["cwd"] == other


def test_every_user_input_kind_is_accepted_and_echoed(app: AppServerProcess, model: MockModel, tmp_path) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    skill = tmp_path / "SKILL.md"
    skill.write_text("Use short words.")
    inputs = [
        text("look"),
        {"type": "image", "url": "https://example.com/a.png"},
        {"type": "localImage", "path": str(image)},
        {"type": "localAudio", "path": str(tmp_path / "a.wav")},
        {"type": "skill", "name": "short", "path": str(skill)},
        {"type": "mention", "name": "readme", "path": "app://readme"},
    ]
    model.queue(assistant_text("seen"))
    thread_id = _start(app)["thread"]["id"]
    app.call("turn/start", {"threadId": thread_id, "input": inputs})
    app.wait_notification("turn/completed")
    user = [m["params"]["item"] for m in app.notifications("item/completed")
            if m["params"]["item"]["type"] == "userMessage"]
    assert [c["type"] for c in user[0]["content"]] == ["text", "image", "localImage", "localAudio", "skill", "mention"]
    body = model.requests[0].body["input"]
    parts = [p["type"] for p in body[-2]["content"]]
    assert parts.count("input_image") == 2
    assert body[-1]["content"][0]["text"].startswith("<skill>\n<name>short</name>")
    err = app.call_error("turn/start", {"threadId": thread_id, "input": [{"type": "hologram"}]})
    assert err.code == -32600


def test_turn_completed_carries_the_final_message_summary(app: AppServerProcess, model: MockModel) -> None:
    model.queue(function_call_response("c1", "nothing", "{}"), assistant_text("final words"))
    thread_id = _start(app)["thread"]["id"]
    turn = app.run_turn(thread_id, "go")
    assert turn["itemsView"] == "summary"
    assert [(i["type"], i["text"]) for i in turn["items"]] == [("agentMessage", "final words")]
    full = app.call("thread/read", {"threadId": thread_id, "includeTurns": True})["thread"]["turns"][0]
    assert [i["type"] for i in full["items"]] == ["userMessage", "agentMessage"]
