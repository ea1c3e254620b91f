"""First contact (issue 11): the cold path as a new user meets it, rootstep next to codex 0.169.

Every figure is taken from outside a fresh process, rootstep and the reference alternating
``BENCH_FIRST_RUNS`` times. Each app-server runs its own project's executor (``rootstep
exec-server`` under rootstep, ``codex exec-server`` under the reference), declared in
``environments.toml`` as a stdio executor; the thread selects one plugin root there whose stdio
MCP server is the stdlib stub (``tests/fixtures/mcp_stub_server.py``).

* first ``thread/start`` of a process, selecting the executor root (request → response);
* ``thread/start`` sent → the root's server listed by ``mcpServerStatus/list``;
* the first turn with one call to the executor-hosted tool (``turn/start`` → ``turn/completed``),
  sent right after ``thread/start``;
* executor spawn → its ``initialize`` answered;
* spawn → first turn completed, a plain turn with no tools (no executor, no root);
* ``mcpServerStatus/list`` on a thread with one plugin, after a turn (its server is up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_side_by_side import (
    app_command,
    executor_command,
    ms_since,
    selected_root,
    wait_until,
    write_executor,
    write_plugin,
)
from bench.common import Row, Section, median, reference_codex

RUNS = int(os.environ.get("BENCH_FIRST_RUNS", "5"))
STATUS_LISTS = 5
KINDS = ("rootstep", "reference")


def _initialize(app: Any) -> None:
    app.call("initialize", {"clientInfo": {"name": "bench", "title": None, "version": "0.1.0"},
                            "capabilities": {"experimentalApi": True}}, timeout=60)
    app.notify("initialized")


def _listed(app: Any, thread_id: str) -> bool:
    data = app.call("mcpServerStatus/list", {"threadId": thread_id}, timeout=120)["data"]
    return any(entry["name"] == "probe" for entry in data)


def status_run(kind: str, reference: Path | None, out: dict[str, list[float]]) -> None:
    """First thread/start with the root; thread/start → server listed; warm status lists."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    command = app_command(kind, reference)
    assert command is not None
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp, MockModel() as model:
        home = Path(tmp) / "home"
        write_config(home, model)
        write_executor(home, executor_command(kind, reference))
        plugin = write_plugin(Path(tmp))
        spawn = time.perf_counter()
        with AppServerProcess(home, command=command, validate=False) as app:  # spawns it
            _initialize(app)
            t0 = time.perf_counter()
            thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selected_root(plugin)},
                              timeout=120)["thread"]["id"]
            out["thread_start"].append(ms_since(t0))
            out["spawn_thread_start"].append(ms_since(spawn))
            wait_until(lambda: _listed(app, thread), 120, "the root's server in mcpServerStatus/list", interval=0.01)
            out["listed"].append(ms_since(t0))
            model.queue(assistant_text("up"))  # a turn: the thread's server is up now
            app.run_turn(thread, "hello", timeout=120)
            for _ in range(STATUS_LISTS):
                t1 = time.perf_counter()
                assert _listed(app, thread)
                out["status"].append(ms_since(t1))


def turn_run(kind: str, reference: Path | None, out: dict[str, list[float]]) -> None:
    """The first turn, sent right after thread/start, calls the executor-hosted tool."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import (
        MockModel,
        assistant_text,
        function_call_response,
        write_config,
    )

    command = app_command(kind, reference)
    assert command is not None
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp, MockModel() as model:
        home = Path(tmp) / "home"
        write_config(home, model)
        write_executor(home, executor_command(kind, reference))
        plugin = write_plugin(Path(tmp))
        with AppServerProcess(home, command=command, validate=False) as app:
            _initialize(app)
            thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selected_root(plugin)},
                              timeout=120)["thread"]["id"]
            model.queue(function_call_response("c1", "echo", json.dumps({"message": "hi"}), namespace="mcp__probe"),
                        assistant_text("done"))
            t0 = time.perf_counter()
            turn = app.call("turn/start", {"threadId": thread, "input": [{"type": "text", "text": "go"}]})["turn"]
            done = app.wait_notification(
                "turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=120
            )
            elapsed = ms_since(t0)
            outputs = json.dumps(model.requests[-1].body["input"])
            if done["params"]["turn"]["status"] != "completed" or "ECHO" not in outputs.upper():
                raise RuntimeError(f"{kind}: the first turn did not reach the plugin's tool: {outputs[-300:]}")
            out["first_turn"].append(elapsed)


def plain_run(kind: str, reference: Path | None, out: dict[str, list[float]]) -> None:
    """Spawn → initialize → thread/start → a plain turn completed."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    command = app_command(kind, reference)
    assert command is not None
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp, MockModel(default=assistant_text("ok")) as model:
        home = Path(tmp) / "home"
        write_config(home, model)
        t0 = time.perf_counter()
        with AppServerProcess(home, command=command, validate=False) as app:  # spawns it
            _initialize(app)
            thread = app.call("thread/start", {"model": "mock-model"}, timeout=60)["thread"]["id"]
            app.run_turn(thread, "hello")
            out["plain"].append(ms_since(t0))


def executor_spawn(kind: str, reference: Path | None, out: dict[str, list[float]]) -> None:
    """Executor spawn → its initialize response, and → its first real answer (``fs/getMetadata``)."""
    argv = executor_command(kind, reference)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def exchange(lines: bytes, expect: bytes, key: str) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(lines)
        proc.stdin.flush()
        line = proc.stdout.readline()
        out[key].append(ms_since(t0))
        if expect not in line:
            raise RuntimeError(f"{kind} exec-server: {line!r}")

    try:
        exchange(b'{"id":1,"method":"initialize","params":{"clientName":"bench"}}\n', b'"result"', "executor")
        exchange(b'{"method":"initialized"}\n{"id":2,"method":"fs/getMetadata","params":{"path":"file:///tmp"}}\n',
                 b'"isDirectory":true', "executor_first")
    finally:
        proc.kill()
        proc.wait()


def import_floor(module: str, out: list[float]) -> None:
    """One fresh interpreter's import of ``module`` (its own clock: no interpreter start-up)."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    out.append(float(done.stdout.strip()))


# What no change in rootstep's own code removes: importing the server's modules (pydantic models
# and dataclasses at class creation) and the SDK's types, which its ClientSession imports.
FLOORS = (
    ("pydantic", "floor: `import pydantic`"),
    ("rootstep.app_server.stdio", "floor: `import rootstep.app_server.stdio` (the server's modules)"),
    ("mcp_types.methods", "floor: `import mcp_types.methods` (the SDK's types; its `ClientSession` imports them)"),
)

ROWS = (
    ("thread_start", "first `thread/start` of a process, selected executor root", "≤ 1.0×"),
    ("spawn_thread_start", "spawn → that first `thread/start` answered (initialize included)", ""),
    ("listed", "`thread/start` → the root's server listed by `mcpServerStatus/list`", "≤ 1.0×"),
    ("first_turn", "first turn with one executor-hosted MCP call", "≤ 1.0×"),
    ("executor", "exec-server spawn → `initialize` answered", "≤ 1.0×"),
    ("executor_first", "exec-server spawn → its first `fs/getMetadata` answered (handlers loaded)", ""),
    ("plain", "spawn → first turn completed (plain turn, no tools)", "≤ 1.0×"),
    ("status", "`mcpServerStatus/list` on a thread with one plugin (after a turn: server up)", "≤ 0.2×"),
)


def run() -> Section:
    reference = reference_codex()
    kinds = [k for k in KINDS if k == "rootstep" or reference is not None]
    samples: dict[str, dict[str, list[float]]] = {k: {key: [] for key, _, _ in ROWS} for k in kinds}
    floors: dict[str, list[float]] = {module: [] for module, _ in FLOORS}
    for _ in range(RUNS):
        for module, _label in FLOORS:
            import_floor(module, floors[module])
        for kind in kinds:
            executor_spawn(kind, reference, samples[kind])
            plain_run(kind, reference, samples[kind])
            status_run(kind, reference, samples[kind])
            turn_run(kind, reference, samples[kind])
    section = Section(title="First contact: the cold path (issue 11)")
    for key, metric, target in ROWS:
        ours = samples["rootstep"][key]
        theirs = samples.get("reference", {}).get(key, [])
        section.rows.append(Row(
            metric, median(ours), reference=median(theirs) if theirs else None, target=target,
            samples=ours, ref_samples=theirs,
        ))
    for module, label in FLOORS:
        section.rows.append(Row(label, median(floors[module]), samples=floors[module]))
    section.notes.append(
        f"{RUNS} alternating runs per figure, each in a fresh process; cells: median (min–max, n=samples). "
        "Each app-server uses its own project's exec-server as the stdio executor; the plugin's MCP "
        "server is the stdlib stub."
    )
    return section


if __name__ == "__main__":
    print(run().markdown())
