"""Driving the agent's own tools through the app-server process and the mock model.

``agent_home`` writes a CODEX_HOME whose config lets 0.169 run commands on this machine
(``allow_login_shell = false``, ``[features] shell_snapshot = false``); ``reference_env`` puts
0.169's ``codex-linux-sandbox`` on PATH so the reference can sandbox too. ``run_turn`` runs one
turn and answers every server→client request with ``answer`` (recording them).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import reference_codex_path
from tests.fixtures.app_server import AppServerProcess, text
from tests.fixtures.mock_model import (
    MockModel,
    MockResponse,
    ev_completed,
    ev_response_created,
    function_call_response,
    write_config,
)

Answer = Callable[[dict[str, Any]], Any]
ROOTSTEP_EXEC_SERVER = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
EXECUTOR_MARK = "executor-only-mark"


def agent_home(home: Path, model: MockModel | str, *, sandbox: str = "workspace-write", approval: str = "never",
               extra: str = "") -> Path:
    write_config(home, model, extra=extra)
    tune_config(home, sandbox=sandbox, approval=approval)
    return home


def tune_config(home: Path, *, sandbox: str = "workspace-write", approval: str = "never") -> None:
    """A ``write_config`` home made fit for commands (and for 0.169 to run them here)."""
    config = home / "config.toml"
    text_ = config.read_text()
    text_ = text_.replace('approval_policy = "never"', f'approval_policy = "{approval}"')
    text_ = text_.replace('sandbox_mode = "read-only"', f'sandbox_mode = "{sandbox}"\nallow_login_shell = false')
    text_ = text_.replace("[features]\n", "[features]\nshell_snapshot = false\n", 1)
    config.write_text(text_)


def write_executor(home: Path, argv: list[str], env_id: str = "exec-1") -> None:
    """An environments.toml with the local machine and one stdio executor that has
    ``EXECUTOR_MARK`` in its environment."""
    (home / "environments.toml").write_text(
        "include_local = true\n\n[[environments]]\n"
        f'id = "{env_id}"\nprogram = {json.dumps(argv[0])}\nargs = {json.dumps(argv[1:])}\n'
        f'initialize_timeout_sec = 20\n[environments.env]\nEXECUTOR_MARK = "{EXECUTOR_MARK}"\n'
    )


def codex_exec_server() -> list[str] | None:
    path = reference_codex_path()
    return None if path is None else [str(path), "exec-server", "--listen", "stdio"]


def reference_env() -> dict[str, str]:
    """PATH with 0.169's own ``codex-linux-sandbox`` (its bubblewrap launcher re-executes it)."""
    path = reference_codex_path()
    assert path is not None
    vendor = path.parent.parent / "@openai" / "codex-linux-x64" / "vendor"
    binary = next(vendor.glob("*/bin/codex"), None)
    links = Path(os.environ.get("TMPDIR", "/tmp")) / f"rootstep-linux-sandbox-{os.getuid()}"
    links.mkdir(exist_ok=True)
    link = links / "codex-linux-sandbox"
    if binary is not None and (not link.is_symlink() or link.readlink() != binary):
        # A link left by a checkout elsewhere (or a dangling one) is replaced in one rename.
        staged = links / f".codex-linux-sandbox-{os.getpid()}"
        staged.unlink(missing_ok=True)
        staged.symlink_to(binary)
        staged.replace(link)
    return {"PATH": f"{links}{os.pathsep}{os.environ.get('PATH', '')}"}


def is_reference(command: list[str]) -> bool:
    return "app-server" in command and "rootstep" not in command


# Sandbox denials are told apart by how fast a command fails (0.169: within 150 ms of its start);
# tests that depend on it give our server a margin no load on the machine eats up.
PATIENT = {"ROOTSTEP_EXEC_EARLY_EXIT_GRACE_MS": "3000"}


def server(home: Path, command: list[str] | None = None, cwd: Path | None = None, *, patient: bool = False,
           validate: bool | None = None, **kw: Any) -> AppServerProcess:
    """An app-server for these tests; ours is schema-checked unless ``validate=False`` (benchmarks, which
    must not charge one side with the checking)."""
    reference = command is not None and is_reference(command)
    env = reference_env() if reference else dict(PATIENT) if patient else {}
    checked = not reference if validate is None else validate
    return AppServerProcess(home, command=command, cwd=cwd, env=env, validate=checked, **kw)


def exec_call(call_id: str, cmd: str, **args: Any) -> MockResponse:
    return function_call_response(call_id, "exec_command", json.dumps({"cmd": cmd, **args}))


def custom_call(call_id: str, name: str, payload: str) -> MockResponse:
    """A freeform tool call (``custom_tool_call``), as catalog models send ``apply_patch``."""
    rid = f"resp-{call_id}"
    item = {"type": "custom_tool_call", "id": f"ctc-{call_id}", "call_id": call_id, "name": name, "input": payload,
            "status": "completed"}
    done = {"type": "response.output_item.done", "output_index": 0, "item": item}
    return MockResponse([ev_response_created(rid), done, ev_completed(rid)])


def later_call() -> MockResponse:
    """A model step whose call is decided once the test knows more (a session id): after
    ``response.created`` and ``response.in_progress`` it waits until :func:`decide` fills in
    the rest (the mock has read the event it holds at before it waits, hence the harmless one)."""
    response = function_call_response("later", "exec_command", "{}")
    created = response.events[0]
    response.events.insert(1, {"type": "response.in_progress", "response": created["response"]})
    response.hold_after = 1
    return response


def decide(response: MockResponse, call_id: str, name: str, arguments: dict[str, Any]) -> None:
    decided = function_call_response(call_id, name, json.dumps(arguments))
    response.events[2:] = decided.events[1:]
    response.release()


def heredoc(patch: str) -> str:
    return f"apply_patch <<'EOF'\n{patch}\nEOF\n"


def run_turn(app: AppServerProcess, thread_id: str, prompt: str, answer: Answer | None = None,
             **params: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """turn/start, answering server requests with ``answer(request)`` until turn/completed;
    returns the completed turn and the requests answered."""
    turn = app.call("turn/start", {"threadId": thread_id, "input": [text(prompt)], **params})["turn"]
    asked: list[dict[str, Any]] = []
    while True:
        message = app.wait_for(lambda m: (m.get("method") == "turn/completed"
                                          and m["params"]["turn"]["id"] == turn["id"])
                               or ("id" in m and "method" in m), what="turn/completed or a server request")
        if "id" not in message:
            return message["params"]["turn"], asked
        asked.append(message)
        app.send({"id": message["id"], "result": answer(message) if answer else {}})


def items(app: AppServerProcess, kind: str | None = None, method: str = "item/completed") -> list[dict[str, Any]]:
    return [m["params"]["item"] for m in app.notifications(method)
            if kind is None or m["params"]["item"].get("type") == kind]


def outputs(model: MockModel) -> dict[str, Any]:
    """call id → the output the model got (function and custom tool calls), from the last request."""
    found: dict[str, Any] = {}
    for request in model.requests:
        for item in request.body.get("input", []):
            if item.get("type") in ("function_call_output", "custom_tool_call_output"):
                found[item["call_id"]] = item["output"]
    return found


_VOLATILE = [
    (re.compile(r"Chunk ID: [0-9a-f]+"), "Chunk ID: X"),
    (re.compile(r"Wall time: [0-9.]+ seconds"), "Wall time: T seconds"),
    (re.compile(r"session ID \d+"), "session ID N"),
    (re.compile(r"Duration: [0-9.]+ seconds"), "Duration: T seconds"),
]


def stable(value: Any, *paths: str) -> Any:
    """``value`` with what differs between runs replaced: timings, ids of processes and
    chunks, the given paths (→ ``<pN>``)."""
    text_ = json.dumps(value)
    for index, path in enumerate(paths):
        text_ = text_.replace(path, f"<p{index}>")
    for pattern, replacement in _VOLATILE:
        text_ = pattern.sub(replacement, text_)
    data = json.loads(text_)
    return _drop_volatile_keys(data)


def _drop_volatile_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<v>" if k in ("startedAtMs", "completedAtMs", "durationMs", "processId", "threadId", "turnId")
                    and v is not None else _drop_volatile_keys(v))
                for k, v in value.items() if k not in ("contentTokenCount",)}
    if isinstance(value, list):
        return [_drop_volatile_keys(v) for v in value]
    return value
