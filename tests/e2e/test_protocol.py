"""JSON-RPC edge cases: handshake, malformed lines, unknown methods, bad params, EOF."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.app_server import AppServerProcess

pytestmark = pytest.mark.timeout(60)


def test_handshake_fields(codex_home) -> None:
    with AppServerProcess(codex_home) as app:
        result = app.initialize(name="my-client")
        assert result["codexHome"] == str(codex_home.resolve())
        assert result["platformFamily"] == "unix" and result["platformOs"] in ("linux", "macos")
        assert result["userAgent"].startswith("my-client/0.169.0 (")
        # the initialize response is the very first line written
        assert app.messages[0]["id"] == 0 and "result" in app.messages[0]
        app.assert_schema_clean()
        assert app.close() == 0


def test_requests_before_initialize_and_twice(codex_home) -> None:
    with AppServerProcess(codex_home) as app:
        err = app.call_error("thread/start", {})
        assert (err.code, err.message) == (-32600, "Not initialized")
        app.initialize()
        err = app.call_error("initialize", {"clientInfo": {"name": "again", "version": "1"}})
        assert (err.code, err.message) == (-32600, "Already initialized")
        assert app.call("thread/list", {})["data"] == []
        assert app.close() == 0


def test_invalid_client_name(codex_home) -> None:
    with AppServerProcess(codex_home) as app:
        err = app.call_error("initialize", {"clientInfo": {"name": "bad\nname", "version": "1"}})
        assert err.message == "Invalid clientInfo.name: 'bad\nname'. Must be a valid HTTP header value."
        app.initialize()
        assert app.close() == 0


def test_malformed_lines_answered_and_logged(app: AppServerProcess) -> None:
    app.send_raw("this is not json")
    parse = app.wait_for(lambda m: m.get("id", 0) is None and m.get("error", {}).get("code") == -32700)
    assert parse["error"]["message"].startswith("Parse error")
    app.send_raw(json.dumps([{"id": 1, "method": "thread/list"}]))
    batch = app.wait_for(lambda m: m.get("id", 0) is None and m.get("error", {}).get("code") == -32600)
    assert "batch" in batch["error"]["message"]
    app.send_raw('{"id": 77, "method": 5}')
    app.wait_for(lambda m: m.get("id", 0) is None
                 and "method must be a string" in m.get("error", {}).get("message", ""))
    # still serving, and the stderr log says what was dropped
    assert app.call("thread/list", {})["data"] == []
    app.wait_stderr("this is not json")
    assert "Parse error" in app.stderr


def test_unknown_method_and_bad_params(app: AppServerProcess) -> None:
    err = app.call_error("no/such", {})
    assert err.code == -32600
    assert err.message.startswith("Invalid request: unknown variant `no/such`, expected one of ")
    assert "`thread/start`" in err.message
    err = app.call_error("thread/start", {"model": 5})
    assert err.code == -32600
    assert err.message.startswith("Invalid request: invalid type: integer `5`, expected a string")
    err = app.call_error("turn/start", {"threadId": "x"})
    assert err.message == "Invalid request: missing field `input`"
    err = app.call_error("thread/read", None, omit_params=True)
    assert err.message == "Invalid request: missing field `params`"
    err = app.call_error("thread/read", {"threadId": "not-a-uuid"})
    assert err.message == "invalid thread id: not-a-uuid"
    err = app.call_error("thread/start", {"sandbox": "read-only", "permissions": "x"})
    assert err.message == "`permissions` cannot be combined with `sandbox`"
    # string ids are echoed verbatim
    app.request("thread/list", {}, id="abc-1")
    assert app.wait_response("abc-1")["result"]["data"] == []


def test_experimental_fields_need_the_capability(codex_home) -> None:
    with AppServerProcess(codex_home) as app:
        app.initialize(experimental=False)
        err = app.call_error("thread/start", {"selectedCapabilityRoots": []})
        assert err.message == "thread/start.selectedCapabilityRoots requires experimentalApi capability"
        thread_id = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        err = app.call_error("turn/start", {"threadId": thread_id, "input": [], "environments": []})
        assert err.message == "turn/start.environments requires experimentalApi capability"
        app.assert_schema_clean()
        assert app.close() == 0


def test_stdin_eof_exits_promptly_even_mid_turn(codex_home, model) -> None:
    from tests.conftest import descendants
    from tests.fixtures.app_server import text
    from tests.fixtures.mock_model import held_text

    before = descendants()
    held = held_text("stuck", deltas=["st", "uck"])
    model.queue(held)
    app = AppServerProcess(codex_home).start()
    try:
        app.initialize()
        thread = app.call("thread/start", {})["thread"]
        app.call("turn/start", {"threadId": thread["id"], "input": [text("hang")]})
        assert held.reached_hold.wait(10)
        assert app.close() == 0
    finally:
        app.kill()
    assert descendants() - before == set()
    assert held.disconnected.wait(10)


def test_cli_config_overrides_apply(codex_home, model) -> None:
    from tests.fixtures.app_server import rootstep_command

    cmd = rootstep_command("-c", 'model="override-model"', "-c", "sandbox_mode=workspace-write",
                           "-c", 'sandbox_workspace_write.writable_roots=["/tmp/extra"]')
    with AppServerProcess(codex_home, command=cmd) as app:
        app.initialize()
        started = app.call("thread/start", {})
        assert started["model"] == "override-model"
        # The sandbox in force, [sandbox_workspace_write] included (as 0.169 echoes it).
        assert started["sandbox"] == {"type": "workspaceWrite", "writableRoots": ["/tmp/extra"], "networkAccess": False,
                                      "excludeTmpdirEnvVar": False, "excludeSlashTmp": False}
        app.assert_schema_clean()
        assert app.close() == 0


def test_first_lines_in_one_write_and_garbage_first(codex_home) -> None:
    """The start-up fast path hands everything after the first line to the full server."""
    init = {"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "burst", "version": "1"}}}
    with AppServerProcess(codex_home) as app:
        app._methods.update({0: "initialize", 1: "thread/list"})
        app.send_raw(json.dumps(init) + "\n" + '{"method":"initialized"}\n'
                     + '{"id":1,"method":"thread/list","params":{}}')
        assert app.wait_response(1)["result"]["data"] == []
        assert app.messages[0]["id"] == 0
        app.assert_schema_clean()
        assert app.close() == 0
    with AppServerProcess(codex_home) as app:
        app.send_raw("{not json")
        parse = app.wait_for(lambda m: m.get("error", {}).get("code") == -32700)
        assert parse["id"] is None
        assert app.initialize()["userAgent"].startswith("rootstep-tests/")
        assert app.close() == 0
    with AppServerProcess(codex_home) as app:  # nesting too deep for the start-up fast path
        app.send_raw('{"id":1,"method":"initialize","params":' + "[" * 100_000)
        app.wait_for(lambda m: m.get("error", {}).get("code") == -32700)
        assert app.initialize()["userAgent"].startswith("rootstep-tests/")
        assert app.close() == 0


def test_hostile_lines_keep_the_server_serving(app: AppServerProcess, model) -> None:
    from tests.fixtures.mock_model import assistant_text

    app.send_raw("[" * 200_000)
    deep = app.wait_for(lambda m: m.get("id", 0) is None and m.get("error", {}).get("code") == -32700)
    assert "nesting" in deep["error"]["message"]
    depth = 600
    app._methods["deep"] = "thread/start"
    app.send_raw('{"id":"deep","method":"thread/start","params":{"config":{"a":'
                 + "[" * depth + '"x"' + "]" * depth + "}}}")
    answer = app.wait_response("deep")
    assert "error" in answer or "result" in answer
    huge = "y" * 5_000_000
    err = app.call_error("thread/start", {"model": 7, "baseInstructions": huge})
    assert err.code == -32600
    app.send_raw(b"\xff\xfe\x00garbage")
    app.wait_for(lambda m: m.get("id", 0) is None and m.get("error", {}).get("code") == -32700)
    model.queue(assistant_text("still here"))
    thread_id = app.call("thread/start", {})["thread"]["id"]
    assert app.run_turn(thread_id, "ok?")["status"] == "completed"
