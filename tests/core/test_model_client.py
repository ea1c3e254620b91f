"""The Responses client against the loopback mock: stream retries and failures."""

from __future__ import annotations

import anyio
import pytest

from rootstep.config.model_provider import ModelProviderInfo
from rootstep.model.client import ResponsesClient
from rootstep.model.events import ModelError, TextDelta
from rootstep.model.request import ModelRequest
from tests.fixtures.mock_model import (
    MockModel,
    MockResponse,
    assistant_text,
    ev_message_added,
    ev_output_text_delta,
    ev_response_created,
    http_error,
)

pytestmark = pytest.mark.timeout(60)

REQUEST = ModelRequest(model="mock-model", input=[{"type": "message", "role": "user",
                                                     "content": [{"type": "input_text", "text": "x"}]}])


async def _collect(model: MockModel, **provider: object) -> list[object]:
    settings = {"request_max_retries": 0, **provider}
    client = ResponsesClient(ModelProviderInfo(base_url=model.base_url, **settings))
    try:
        return [event async for event in client.stream(REQUEST)]
    finally:
        await client.aclose()


def test_stream_broken_before_output_is_retried() -> None:
    with MockModel() as model:
        model.queue(MockResponse([ev_response_created("r0")]), assistant_text("ok", deltas=["ok"]))
        events = anyio.run(lambda: _collect(model, stream_max_retries=1))
        assert [e.delta for e in events if isinstance(e, TextDelta)] == ["ok"]
        assert len(model.requests) == 2


def test_stream_broken_after_output_is_final() -> None:
    with MockModel() as model:
        model.queue(MockResponse([ev_response_created("r0"), ev_message_added("m"), ev_output_text_delta("m", "par")]),
                    assistant_text("never used"))
        with pytest.raises(ModelError, match="stream disconnected before completion"):
            anyio.run(lambda: _collect(model, stream_max_retries=3))
        assert len(model.requests) == 1


def test_http_errors_use_request_retries() -> None:
    with MockModel() as model:
        model.queue(http_error(500, "first"), assistant_text("second try"))
        events = anyio.run(lambda: _collect(model, stream_max_retries=0, request_max_retries=1))
        assert events[-1].__class__.__name__ == "Completed"
        assert len(model.requests) == 2
        model.queue(http_error(400, "bad request body"))
        with pytest.raises(ModelError, match="unexpected status 400: bad request body"):
            anyio.run(lambda: _collect(model, stream_max_retries=0))
