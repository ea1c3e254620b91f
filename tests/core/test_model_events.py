"""Stream events → model events, and user input → Responses items (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootstep.core.user_input import to_response_items
from rootstep.model.events import (
    Completed,
    FunctionCallDone,
    MessageDone,
    MessageStarted,
    ModelError,
    OtherItemDone,
    TextDelta,
    map_event,
)
from rootstep.protocol.items import LocalImageInput, SkillInput, TextInput
from tests.fixtures.mock_model import (
    ev_assistant_message,
    ev_completed,
    ev_failed,
    ev_function_call,
    ev_message_added,
    ev_output_text_delta,
    ev_response_created,
)


def test_mapping() -> None:
    assert map_event(ev_response_created()) is None
    assert map_event(ev_message_added("m1")) == MessageStarted("m1")
    assert map_event(ev_output_text_delta("m1", "Hi")) == TextDelta("m1", "Hi")
    done = map_event(ev_assistant_message("m1", "Hi there"))
    assert isinstance(done, MessageDone) and done.text == "Hi there" and done.raw["role"] == "assistant"
    call = map_event(ev_function_call("c1", "echo", '{"a":1}', namespace="mcp__srv"))
    assert isinstance(call, FunctionCallDone)
    assert (call.call.call_id, call.call.name, call.call.namespace, call.call.arguments) == (
        "c1", "echo", "mcp__srv", '{"a":1}')
    assert call.raw["namespace"] == "mcp__srv"
    reasoning = map_event({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "r"}})
    assert isinstance(reasoning, OtherItemDone)
    completed = map_event(ev_completed("r1", input_tokens=5, output_tokens=2))
    assert isinstance(completed, Completed) and completed.usage is not None
    assert completed.usage.total_tokens == 7
    with pytest.raises(ModelError, match="it broke"):
        map_event(ev_failed("r1", "it broke"))
    with pytest.raises(ModelError, match="max_output_tokens"):
        map_event({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}})


def test_user_input_items(tmp_path: Path) -> None:
    skill = tmp_path / "SKILL.md"
    skill.write_text("Do the thing.")
    image = tmp_path / "dot.png"
    image.write_bytes(b"\x89PNG\r\n")
    items = to_response_items([TextInput(text="hello"), LocalImageInput(path=str(image)),
                               SkillInput(name="thing", path=str(skill))])
    assert items[0]["role"] == "user"
    assert items[0]["content"][0] == {"type": "input_text", "text": "hello"}
    assert items[0]["content"][1]["image_url"].startswith("data:image/png;base64,")
    assert items[1]["content"][0]["text"] == (
        f"<skill>\n<name>thing</name>\n<path>{skill}</path>\nDo the thing.\n</skill>"
    )


def test_history_replay_drops_ids_and_unreplayable_reasoning() -> None:
    from rootstep.core.turn import replayable

    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "opaque"},
        {"type": "message", "role": "assistant", "id": "msg_1", "content": [{"type": "output_text", "text": "yo"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "echo", "namespace": "mcp__s",
         "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]
    out = replayable(history)
    assert [i["type"] for i in out] == ["message", "reasoning", "message", "function_call", "function_call_output"]
    assert all("id" not in i for i in out)
    assert out[1]["encrypted_content"] == "opaque" and out[3]["namespace"] == "mcp__s"
    assert history[3]["id"] == "msg_1"  # the stored history keeps its ids
