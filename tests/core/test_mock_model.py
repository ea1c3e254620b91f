"""The scripted Responses endpoint every model-facing test relies on."""

from __future__ import annotations

import anyio
import pytest

from tests.fixtures.mock_model import (
    MockModel,
    assistant_text,
    failed_response,
    function_call_response,
    held_text,
)


@pytest.fixture
def model():
    with MockModel() as server:
        yield server


def _client(model: MockModel):
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=model.base_url, api_key="test", max_retries=0)


async def _events(model: MockModel, **body):
    client = _client(model)
    stream = await client.responses.create(model="mock-model", input="hi", stream=True, **body)
    out = [event async for event in stream]
    await client.close()
    return out


def test_streams_text_deltas_and_records_the_request(model: MockModel) -> None:
    model.queue(assistant_text("Hello!", deltas=["Hel", "lo!"], usage=(7, 3)))
    events = anyio.run(_events, model)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Hel", "lo!"]
    assert events[-1].type == "response.completed" and events[-1].response.usage.input_tokens == 7
    assert model.requests[0].body["model"] == "mock-model"
    assert model.requests[0].body["stream"] is True
    assert model.requests[0].path == "/v1/responses"


def test_function_call_namespace_survives_the_openai_sdk(model: MockModel) -> None:
    model.queue(function_call_response("call-1", "echo", '{"message":"hi"}', namespace="mcp__pyecho"))
    events = anyio.run(_events, model)
    done = [e for e in events if e.type == "response.output_item.done"]
    assert done[0].item.namespace == "mcp__pyecho"
    assert done[0].item.call_id == "call-1"


def test_failed_and_empty_queue(model: MockModel) -> None:
    model.queue(failed_response("boom"))
    events = anyio.run(_events, model)
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.message == "boom"

    async def unqueued() -> str:
        from openai import APIStatusError

        try:
            await _events(model)
        except APIStatusError as exc:
            return str(exc)
        return "no error"

    assert "no response queued" in anyio.run(unqueued)


def test_held_response_waits_for_release(model: MockModel) -> None:
    held = held_text("abc", deltas=["a", "bc"])
    model.queue(held)

    async def main() -> list[str]:
        seen: list[str] = []
        client = _client(model)
        stream = await client.responses.create(model="mock-model", input="hi", stream=True)
        async for event in stream:
            seen.append(event.type)
            if event.type == "response.output_text.delta" and seen.count(event.type) == 1:
                # The first delta arrived; the rest is held until we release it.
                assert held.reached_hold.wait(5)
                assert model.requests[0].duration_s == 0.0
                held.release()
        await client.close()
        return seen

    seen = anyio.run(main)
    assert seen[-1] == "response.completed"
    assert held.reached_hold.is_set()
