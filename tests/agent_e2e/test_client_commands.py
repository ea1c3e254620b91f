"""Commands a client runs itself: command/exec (buffered, streamed, stdin, terminate, errors),
thread/shellCommand (the user's ``!cmd``) and a thread's background terminals."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import agent_home, exec_call, items, run_turn, server
from tests.conftest import descendants
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = pytest.mark.timeout(120)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")
def test_command_exec_buffered_streamed_and_its_errors(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="read-only")
    outside = Path("/var/tmp") / f"rootstep-command-exec-{tmp_path.name}"
    before = descendants()
    with server(home, cwd=tmp_path) as app:
        app.initialize()
        done = app.call("command/exec", {"command": ["sh", "-c", "echo out; echo err >&2; exit 4"]})
        assert done == {"exitCode": 4, "stdout": "out\n", "stderr": "err\n"}
        # the server's sandbox (config.toml: read-only) holds; a request may choose another
        denied = app.call("command/exec", {"command": ["touch", str(outside)]})
        assert denied["exitCode"] == 1 and "Read-only file system" in denied["stderr"] and not outside.exists()
        allowed = app.call("command/exec", {"command": ["sh", "-c", "echo x > made.txt"],
                                            "sandboxPolicy": {"type": "dangerFullAccess"}})
        assert allowed["exitCode"] == 0 and (tmp_path / "made.txt").read_text() == "x\n"
        capped = app.call("command/exec", {"command": ["sh", "-c", "printf 0123456789"], "outputBytesCap": 4})
        assert capped["stdout"] == "0123"
        timed = app.call("command/exec", {"command": ["sleep", "5"], "timeoutMs": 100})
        assert timed["exitCode"] == 124
        # streamed: deltas to this connection, stdin written, the response last
        request = app.request("command/exec", {"command": ["cat"], "processId": "p1", "streamStdin": True,
                                               "streamStdoutStderr": True})
        app.call("command/exec/write", {"processId": "p1", "deltaBase64": _b64("hello\n")})
        delta = app.wait_notification("command/exec/outputDelta")["params"]
        assert delta == {"processId": "p1", "stream": "stdout", "deltaBase64": _b64("hello\n"), "capReached": False}
        app.call("command/exec/write", {"processId": "p1", "closeStdin": True})
        assert app.wait_response(request)["result"] == {"exitCode": 0, "stdout": "", "stderr": ""}
        # a long command, terminated by its process id
        request = app.request("command/exec", {"command": ["sh", "-c", "echo ready; sleep 30"], "processId": "p2",
                                               "streamStdoutStderr": True, "disableTimeout": True})
        app.wait_notification("command/exec/outputDelta", lambda m: m["params"]["processId"] == "p2")
        errors = {
            "empty": app.call_error("command/exec", {"command": []}),
            "stream without id": app.call_error("command/exec", {"command": ["true"], "tty": True}),
            "both caps": app.call_error("command/exec",
                                        {"command": ["true"], "outputBytesCap": 1, "disableOutputCap": True}),
            "size without tty": app.call_error("command/exec", {"command": ["true"], "size": {"rows": 1, "cols": 1}}),
            "unknown id": app.call_error("command/exec/write", {"processId": "nope", "closeStdin": True}),
            "nothing to write": app.call_error("command/exec/write", {"processId": "p2"}),
        }
        assert {k: (e.code, e.message) for k, e in errors.items()} == {
            "empty": (-32600, "command must not be empty"),
            "stream without id": (-32600, "command/exec tty or streaming requires a client-supplied processId"),
            "both caps": (-32602, "command/exec cannot set both outputBytesCap and disableOutputCap"),
            "size without tty": (-32602, "command/exec size requires tty: true"),
            "unknown id": (-32600, 'no active command/exec for process id "nope"'),
            "nothing to write": (-32602, "command/exec/write requires deltaBase64 or closeStdin"),
        }
        duplicate = app.call_error("command/exec", {"command": ["true"], "processId": "p2", "streamStdoutStderr": True})
        assert duplicate.message == 'duplicate active command/exec process id: "p2"'
        assert app.call("command/exec/terminate", {"processId": "p2"}) == {}
        assert app.wait_response(request)["result"]["exitCode"] != 0
        app.assert_schema_clean()
        assert app.close() == 0
    assert not descendants() - before


def test_shell_command_runs_as_a_turn_and_the_model_hears_of_it(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="read-only")
    model.queue(assistant_text("noted"))
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        shell = {"threadId": thread_id, "command": "echo hi; echo err >&2; touch made"}
        assert app.call("thread/shellCommand", shell) == {}
        turn = app.wait_notification("turn/completed")["params"]["turn"]
        assert turn["status"] == "completed"
        [item] = items(app, "commandExecution")
        assert (item["source"], item["status"], item["exitCode"], item["processId"]) == (
            "userShell", "completed", 0, None)
        assert item["command"] == "/bin/bash -lc 'echo hi; echo err >&2; touch made'"
        assert item["aggregatedOutput"] == "hi\nerr\n"
        assert (tmp_path / "made").exists()  # outside the thread's read-only sandbox, as 0.169
        error = app.call_error("thread/shellCommand", {"threadId": thread_id, "command": "  "})
        assert (error.code, error.message) == (-32600, "command must not be empty")
        assert run_turn(app, thread_id, "what did I run?")[0]["status"] == "completed"
        app.assert_schema_clean()
        assert app.close() == 0
    texts = [c["text"] for i in model.requests[0].body["input"] for c in i.get("content", [])
             if "user_shell_command" in c["text"]]
    assert len(texts) == 1 and texts[0].startswith(
        "<user_shell_command>\n<command>\necho hi; echo err >&2; touch made\n</command>\n"
        "<result>\nExit code: 0\nDuration: ")
    assert texts[0].endswith(" seconds\nOutput:\nhi\nerr\n\n</result>\n</user_shell_command>")


def test_background_terminals_list_terminate_and_clean(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    model.queue(exec_call("c1", "echo bg; sleep 304", yield_time_ms=250),
                exec_call("c2", "sleep 305", yield_time_ms=250),
                exec_call("c3", "sleep 306", yield_time_ms=250), assistant_text("done"))
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        assert run_turn(app, thread_id, "go")[0]["status"] == "completed"
        listed = app.call("thread/backgroundTerminals/list", {"threadId": thread_id})
        assert [(t["itemId"], t["command"], t["cwd"]) for t in listed["data"]] == [
            ("c3", "sleep 306", str(tmp_path)), ("c2", "sleep 305", str(tmp_path)),
            ("c1", "echo bg; sleep 304", str(tmp_path))]
        assert listed["nextCursor"] is None
        page = app.call("thread/backgroundTerminals/list", {"threadId": thread_id, "limit": 2})
        assert [t["itemId"] for t in page["data"]] == ["c3", "c2"]
        assert page["nextCursor"] == page["data"][1]["processId"]
        rest = app.call("thread/backgroundTerminals/list", {"threadId": thread_id, "cursor": page["nextCursor"]})
        assert [t["itemId"] for t in rest["data"]] == ["c1"]
        first = listed["data"][0]["processId"]
        terminate = {"threadId": thread_id, "processId": first}
        assert app.call("thread/backgroundTerminals/terminate", terminate) == {"terminated": True}
        terminate = {"threadId": thread_id, "processId": "7"}
        assert app.call("thread/backgroundTerminals/terminate", terminate) == {"terminated": False}
        error = app.call_error("thread/backgroundTerminals/terminate", {"threadId": thread_id, "processId": "x"})
        assert (error.code, error.message) == (
            -32600, "invalid background terminal process id: invalid digit found in string")
        assert app.call("thread/backgroundTerminals/clean", {"threadId": thread_id}) == {}
        # as 0.169: the answer first, then the killed commands' items
        for call_id in ("c1", "c2", "c3"):
            app.wait_for(lambda m, c=call_id: m.get("method") == "item/completed" and m["params"]["item"]["id"] == c,
                         take=False, what=f"{call_id} killed")
        assert app.call("thread/backgroundTerminals/list", {"threadId": thread_id}) == {"data": [], "nextCursor": None}
        ended = {i["id"]: (i["status"], i["exitCode"]) for i in items(app, "commandExecution")}
        assert ended == {"c1": ("failed", -1), "c2": ("failed", -1), "c3": ("failed", -1)}
        app.assert_schema_clean()
        assert app.close() == 0
    assert not descendants() - before
