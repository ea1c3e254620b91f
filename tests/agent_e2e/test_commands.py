"""exec_command / write_stdin through the app-server: where commands run (the local cwd, a
rootstep executor, a codex executor), what the model and the client see, the sandbox, and that
no process outlives its turn's interrupt, its thread or the server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from rootstep.sandbox.bwrap import probe
from tests.agent_e2e.helpers import (
    EXECUTOR_MARK,
    ROOTSTEP_EXEC_SERVER,
    agent_home,
    codex_exec_server,
    decide,
    exec_call,
    items,
    later_call,
    outputs,
    run_turn,
    server,
    write_executor,
)
from tests.conftest import descendants
from tests.fixtures.app_server import text
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = pytest.mark.timeout(120)
needs_sandbox = pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")


def _session(output: str) -> int:
    return int(output.split("Process running with session ID ", 1)[1].split("\n", 1)[0])


def test_commands_run_in_the_thread_cwd_poll_and_fail(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    model.queue(
        exec_call("c1", "pwd; echo $CODEX_THREAD_ID"),
        exec_call("c2", "echo out; echo err >&2; exit 3", workdir="sub"),
        exec_call("c3", "echo first; sleep 1; echo second", yield_time_ms=250),
    )
    poll = later_call()
    model.queue(poll, assistant_text("done"))
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        turn = app.call("turn/start", {"threadId": thread_id, "input": [text("go")]})["turn"]
        model.wait_for_requests(4)
        decide(poll, "c4", "write_stdin", {"session_id": _session(outputs(model)["c3"]), "yield_time_ms": 5000})
        done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"])
        assert done["params"]["turn"]["status"] == "completed"
        commands = {i["id"]: i for i in items(app, "commandExecution")}
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    assert "Process exited with code 0\n" in got["c1"] and got["c1"].endswith(f"Output:\n{work}\n{thread_id}\n")
    assert "Process exited with code 3" in got["c2"] and got["c2"].endswith("Output:\nout\nerr\n")
    assert "Process running with session ID" in got["c3"] and got["c3"].endswith("Output:\nfirst\n")
    assert "Process exited with code 0" in got["c4"] and got["c4"].endswith("Output:\nsecond\n")
    assert (commands["c1"]["status"], commands["c1"]["exitCode"], commands["c1"]["cwd"]) == ("completed", 0, str(work))
    assert commands["c1"]["command"] == "/bin/bash -c 'pwd; echo $CODEX_THREAD_ID'"
    assert (commands["c2"]["status"], commands["c2"]["exitCode"], commands["c2"]["cwd"]) == (
        "failed", 3, str(work / "sub"))
    assert commands["c3"]["aggregatedOutput"] == "first\nsecond\n" and commands["c3"]["source"] == "unifiedExecStartup"
    deltas = [m["params"]["delta"] for m in app.notifications("item/commandExecution/outputDelta")
              if m["params"]["itemId"] == "c3"]
    assert "".join(deltas) == "second\n"  # what it printed after its item started
    assert not descendants() - before


@pytest.mark.parametrize("executor", ["rootstep", "codex"])
def test_commands_and_patches_run_in_an_executor(tmp_path: Path, model: MockModel, executor: str) -> None:
    argv = ROOTSTEP_EXEC_SERVER if executor == "rootstep" else codex_exec_server()
    if argv is None:
        pytest.skip("reference codex binary absent")
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    write_executor(home, argv)
    work = tmp_path / "remote-work"
    work.mkdir()
    patch = "*** Begin Patch\n*** Add File: made.txt\n+made in the executor\n*** End Patch"
    model.queue(
        exec_call("c1", "echo mark=$EXECUTOR_MARK; pwd"),
        exec_call("c2", f"apply_patch <<'EOF'\n{patch}\nEOF\n"),
        exec_call("c3", "cat made.txt"),
        assistant_text("done"),
    )
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread = app.call("thread/start", {"environments": [{"environmentId": "exec-1", "cwd": str(work)}]}, timeout=60)
        turn, _ = run_turn(app, thread["thread"]["id"], "go")
        assert turn["status"] == "completed"
        changes = items(app, "fileChange")
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    assert got["c1"].endswith(f"Output:\nmark={EXECUTOR_MARK}\n{work}\n")
    assert got["c2"].endswith("Success. Updated the following files:\nA made.txt\n")
    assert got["c3"].endswith("Output:\nmade in the executor\n")
    assert changes[0]["changes"] == [
        {"path": str(work / "made.txt"), "kind": {"type": "add"}, "diff": "made in the executor\n"}]
    assert not descendants() - before


@needs_sandbox
def test_the_sandbox_refuses_writes_outside_the_workspace_and_the_network(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="workspace-write", approval="never")
    work = tmp_path / "work"
    work.mkdir()
    outside = Path("/var/tmp") / f"rootstep-agent-{tmp_path.name}"
    network = f"import socket; socket.create_connection(('127.0.0.1', {model.port}), timeout=3)"
    model.queue(
        exec_call("c1", "echo inside > inside.txt && echo wrote"),
        exec_call("c2", f"touch {outside}"),
        exec_call("c3", f"python3 -c \"{network}\""),
        assistant_text("done"),
    )
    with server(home, patient=True) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(work)})["thread"]["id"]
        turn, _ = run_turn(app, thread_id, "go")
        assert turn["status"] == "completed"
        started = [i["id"] for i in items(app, "commandExecution", "item/started")]
        app.assert_schema_clean()
        assert app.close() == 0
    got = outputs(model)
    assert got["c1"].endswith("Output:\nwrote\n") and (work / "inside.txt").read_text() == "inside\n"
    assert "Process exited with code 1" in got["c2"] and "Read-only file system" in got["c2"] and not outside.exists()
    assert "Process exited with code 1" in got["c3"] and "PermissionError" in got["c3"]
    # 0.169 tells the model about a sandbox denial it will not retry, and shows the client nothing.
    assert started == ["c1"]


def test_an_interrupt_kills_the_process_tree(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    model.queue(exec_call("c1", "echo started; sleep 300 & sleep 301; wait", yield_time_ms=30000))
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        turn = app.call("turn/start", {"threadId": thread_id, "input": [text("go")]})["turn"]
        app.wait_notification("item/started", lambda m: m["params"]["item"]["type"] == "commandExecution")
        sleeps = {p.pid for p in psutil.Process().children(recursive=True) if p.name() == "sleep"}
        assert len(sleeps) == 2
        app.call("turn/interrupt", {"threadId": thread_id, "turnId": turn["id"]})
        done = app.wait_notification("turn/completed")["params"]["turn"]
        assert done["status"] == "interrupted"
        killed = items(app, "commandExecution")[0]
        assert (killed["status"], killed["exitCode"], killed["aggregatedOutput"]) == ("failed", -1, "started\n")
        _gone, alive = psutil.wait_procs([psutil.Process(p) for p in sleeps if psutil.pid_exists(p)], timeout=5)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        model.queue(assistant_text("after"))
        assert run_turn(app, thread_id, "again")[0]["status"] == "completed"
        app.assert_schema_clean()
        assert app.close() == 0
    request = model.requests[-1].body["input"]
    aborted = next(i for i in request if i.get("type") == "function_call_output")
    assert aborted["output"].startswith("Wall time: ") and aborted["output"].endswith(" seconds\naborted by user")
    assert any("<turn_aborted>" in json.dumps(i) for i in request)
    assert not descendants() - before


def test_unloading_a_thread_kills_its_background_terminals_and_resume_shows_its_items(
    tmp_path: Path, model: MockModel
) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    model.queue(exec_call("c1", "sleep 302", yield_time_ms=250), exec_call("c2", "echo visible"),
                assistant_text("done"))
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        assert run_turn(app, thread_id, "go")[0]["status"] == "completed"
        listed = app.call("thread/backgroundTerminals/list", {"threadId": thread_id})["data"]
        assert [(t["itemId"], t["command"]) for t in listed] == [("c1", "sleep 302")]
        sleeper = [p for p in psutil.Process().children(recursive=True) if "302" in " ".join(p.cmdline())]
        app.call("thread/unsubscribe", {"threadId": thread_id})
        app.wait_notification("thread/closed")
        _gone, alive = psutil.wait_procs(sleeper, timeout=5)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        killed = [i for i in items(app, "commandExecution") if i["id"] == "c1"]
        assert killed and killed[0]["exitCode"] == -1
        app.assert_schema_clean()
        assert app.close() == 0
    with server(home) as app:
        app.initialize()
        resumed = app.call("thread/resume", {"threadId": thread_id})["thread"]
        shown = [i for turn in resumed["turns"] for i in turn["items"] if i["type"] == "commandExecution"]
        assert {(i["id"], i["status"]) for i in shown} == {("c1", "failed"), ("c2", "completed")}
        assert next(i for i in shown if i["id"] == "c2")["aggregatedOutput"] == "visible\n"
        app.assert_schema_clean()
        assert app.close() == 0
    assert not descendants() - before


def test_the_server_stopping_kills_running_commands(tmp_path: Path, model: MockModel) -> None:
    home = agent_home(tmp_path / "home", model, sandbox="danger-full-access")
    model.queue(exec_call("c1", "sleep 303", yield_time_ms=250), assistant_text("done"))
    before = descendants()
    with server(home) as app:
        app.initialize()
        thread_id = app.call("thread/start", {"cwd": str(tmp_path)})["thread"]["id"]
        assert run_turn(app, thread_id, "go")[0]["status"] == "completed"
        assert any("303" in " ".join(p.cmdline()) for p in psutil.Process().children(recursive=True))
        assert app.close() == 0
    deadline = time.monotonic() + 10
    while descendants() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not descendants() - before
