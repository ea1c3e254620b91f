"""The pure parts of asking the client: request shapes (validated against the 0.169 schema),
answers, and what a router does when nobody can answer."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from hypothesis import given, strategies as st

from rootstep.mcp.elicitation import (
    USER_CANCELLED,
    USER_REJECTED,
    ElicitationRequestParams,
    ElicitationResponse,
    ElicitationRouter,
    approval_refusal,
    approval_request,
    forwarded_request,
    parse_response,
    server_result,
)
from rootstep.protocol.base import wire
from tests.fixtures.schema_check import SchemaChecker

TOOL = types.Tool(name="write", title="Write", description="Writes.", input_schema={"type": "object"})


def check_request(params: ElicitationRequestParams) -> None:
    SchemaChecker().check({"id": 0, "method": params.METHOD, "params": wire(params)})


def test_approval_request_matches_the_schema_and_the_reference_meta():
    params = approval_request(thread_id="t", turn_id="u", server="files", tool=TOOL, arguments={"b": 2, "a": 1})
    check_request(params)
    data = wire(params)
    assert data["message"] == 'Allow the files MCP server to run tool "write"?'
    assert data["_meta"]["codex_approval_kind"] == "mcp_tool_call"
    assert data["_meta"]["tool_title"] == "Write" and data["_meta"]["tool_params"] == {"b": 2, "a": 1}
    assert [p["name"] for p in data["_meta"]["tool_params_display"]] == ["a", "b"]
    assert "url" not in data and "elicitationId" not in data


def test_forwarded_url_elicitation_matches_the_schema():
    params = types.ElicitRequestURLParams(message="Go", url="https://x.test", elicitation_id="e1")
    request = forwarded_request(params, thread_id="t", turn_id=None, server="s")
    check_request(request)
    assert wire(request)["mode"] == "url" and "requestedSchema" not in wire(request)


@given(st.sampled_from(["accept", "decline", "cancel"]), st.one_of(st.none(), st.dictionaries(st.text(), st.text())))
def test_answers_map_to_refusals_and_server_results(action, content):
    response = ElicitationResponse(action=action, content=content)
    refusal = approval_refusal(response)
    assert refusal == {"accept": None, "decline": USER_REJECTED, "cancel": USER_CANCELLED}[action]
    result = server_result(response)
    assert result.action == action
    # content only travels with an accept
    assert result.content == (content if action == "accept" else None)


@pytest.mark.parametrize("raw", [None, 5, {"action": "maybe"}, {}])
def test_unreadable_answers_decline(raw):
    assert parse_response(raw).action == "decline"


def test_a_router_without_a_client_or_with_a_failing_one_declines():
    async def gone(params: ElicitationRequestParams) -> ElicitationResponse:
        raise ConnectionError("client disconnected")

    async def body() -> None:
        for router in (ElicitationRouter("t"), ElicitationRouter("t", gone)):
            assert await router.approve_tool_call("s", TOOL, None, turn_id=None) == USER_REJECTED
            params = types.ElicitRequestFormParams(message="m", requested_schema={"type": "object", "properties": {}})
            result = await router.callback_for("s")(None, params)
            assert result.action == "decline"

    anyio.run(body)
