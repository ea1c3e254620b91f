"""The dependency-free initialize decision agrees with the wire models and the schema."""

from __future__ import annotations

import pytest

from rootstep.app_server.handshake import HandshakeError, initialize_result, parse_initialize
from rootstep.protocol.initialize import InitializeParams, InitializeResponse
from tests.fixtures.schema_check import check_response


def test_result_matches_model_and_schema() -> None:
    params = {"clientInfo": {"name": "c", "title": None, "version": "2"},
              "capabilities": {"experimentalApi": True, "optOutNotificationMethods": ["x"]}}
    session = parse_initialize(params)
    model = InitializeParams.model_validate(params)
    assert session.client_name == model.client_info.name
    assert session.experimental_api is model.capabilities.experimental_api is True
    assert session.opt_out == frozenset(model.capabilities.opt_out_notification_methods)
    result = initialize_result(session, "/home/x")
    InitializeResponse.model_validate(result)
    check_response("initialize", {"id": 0, "result": result})
    assert result["userAgent"].startswith("c/0.169.0 (") and result["userAgent"].endswith("(c; 2)")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (None, "Invalid request: missing field `params`"),
        ({}, "Invalid request: missing field `clientInfo`"),
        ({"clientInfo": {"name": 5, "version": "1"}}, "Invalid request: clientInfo.name: expected a string"),
        ({"clientInfo": {"name": "a\x01", "version": "1"}},
         "Invalid clientInfo.name: 'a\x01'. Must be a valid HTTP header value."),
    ],
)
def test_errors(params: object, message: str) -> None:
    with pytest.raises(HandshakeError) as info:
        parse_initialize(params)
    assert str(info.value) == message


def test_reserved_client_names_do_not_become_originator() -> None:
    assert parse_initialize({"clientInfo": {"name": "codex-backend", "version": "1"}}).originator == "rootstep"
    assert parse_initialize({"clientInfo": {"name": "my-app", "version": "1"}}).originator == "my-app"
