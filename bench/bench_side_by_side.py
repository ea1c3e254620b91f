"""The issue 7 figures, rootstep next to the reference ``codex`` 0.169.0, in one run.

Every scenario runs once for rootstep, then once for the reference, ``BENCH_SIDE_RUNS`` times
(the cheap plain one ``2 × BENCH_SIDE_RUNS + 1`` times), alternating so background load hits
both alike; medians and min–max are over all samples.

* **plain** (a home with the mock model only): spawn → ``initialize`` response; ``initialize``
  answered → first ``thread/start`` answered (lazy imports show here); later ``thread/start``
  round trips; turn overhead (``turn/start`` → ``turn/completed`` minus the mock's own time).
* **executor**: ``environments.toml`` declares ``executor-1`` — ``rootstep exec-server`` under
  rootstep, ``codex exec-server`` under the reference (each app with its own project's
  executor); a thread selects one plugin root there whose stdio MCP server (a stdlib stub, so
  Python start-up does not dominate) runs inside the executor. A turn with one call to it
  (overhead beyond the mock's time for both model requests), and warm ``mcpServer/tool/call``.
* **50 servers**: ``config.toml`` with 50 stdio stub servers; ``mcpServerStatus/list`` once all
  are up, and the turn overhead with 50 unchanged servers minus the plain turn overhead — what a
  step pays to find its tool set unchanged and reuse it.
* **threads**: 1, 10, 50 threads selecting the same executor plugin, each after one turn: the
  process count and the RSS summed over the app-server's whole process tree (executor and MCP
  servers included). One run per app.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, Section, median, process_tree, reference_codex

RUNS = int(os.environ.get("BENCH_SIDE_RUNS", "2"))
PLAIN_RUNS = 2 * RUNS + 1  # cheap (one cold start each): more samples for the start-up figures
THREAD_STARTS = 5
TURNS = 8
TOOL_TURNS = 5
DIRECT_CALLS = 20
STATUS_LISTS = 10
SERVERS = 50
THREAD_LEVELS = (1, 10, 50)
STUB = str(ROOT / "tests" / "fixtures" / "mcp_stub_server.py")


def app_command(kind: str, reference: Path | None) -> list[str] | None:
    if kind == "rootstep":
        return [sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://"]
    return [str(reference), "app-server", "--listen", "stdio://"]


def executor_command(kind: str, reference: Path | None) -> list[str]:
    if kind == "rootstep":
        return [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
    return [str(reference), "exec-server", "--listen", "stdio"]


def stub_server() -> dict[str, Any]:
    return {"command": sys.executable, "args": [STUB], "startup_timeout_sec": 120,
            "default_tools_approval_mode": "approve"}  # the mock config runs read-only, approval never


def write_plugin(base: Path) -> Path:
    root = base / "plugin"
    (root / ".codex-plugin").mkdir(parents=True)
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "probe-plugin"}))
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"probe": stub_server()}}))
    return root


def write_executor(home: Path, executor: list[str]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "environments.toml").write_text(
        "include_local = true\n\n[[environments]]\nid = \"executor-1\"\n"
        f"program = {json.dumps(executor[0])}\nargs = {json.dumps(executor[1:])}\ninitialize_timeout_sec = 60\n"
    )


def selected_root(plugin: Path) -> list[dict[str, Any]]:
    return [{"id": "probe-plugin@1", "location": {"type": "environment", "environmentId": "executor-1",
                                                   "path": str(plugin)}}]


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def timed_turn(app: Any, model: Any, thread_id: str, prompt: str) -> float:
    """turn/start → turn/completed minus the mock's time for the turn's requests, in ms."""
    before = len(model.requests)
    t0 = time.perf_counter()
    turn = app.call("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": prompt}]})["turn"]
    done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=120)
    total = ms_since(t0)
    if done["params"]["turn"]["status"] != "completed":
        raise RuntimeError(f"turn ended {done['params']['turn']['status']}: {done['params']['turn'].get('error')}")
    return total - sum(r.duration_s for r in model.requests[before:]) * 1000


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


def plain_run(command: list[str], out: dict[str, list[float]]) -> None:
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    with tempfile.TemporaryDirectory(prefix="bench-side-") as tmp, MockModel(default=assistant_text("ok")) as model:
        home = Path(tmp) / "home"
        write_config(home, model)
        app = AppServerProcess(home, command=command, validate=False)
        with app:
            t0 = time.perf_counter()
            app.start()
            app.call("initialize", {"clientInfo": {"name": "bench", "title": None, "version": "0.1.0"},
                                    "capabilities": {"experimentalApi": True}}, timeout=60)
            out["cold"].append(ms_since(t0))
            app.notify("initialized")
            t0 = time.perf_counter()
            thread = app.call("thread/start", {"model": "mock-model"}, timeout=60)["thread"]["id"]
            out["first_thread"].append(ms_since(t0))
            for _ in range(THREAD_STARTS):
                t0 = time.perf_counter()
                app.call("thread/start", {"model": "mock-model"})
                out["thread_start"].append(ms_since(t0))
            for index in range(2 + TURNS):
                overhead = timed_turn(app, model, thread, f"q{index}")
                if index >= 2:
                    out["turn"].append(overhead)


@contextmanager
def executor_app(command: list[str], executor: list[str]) -> Iterator[tuple[Any, Any, Path]]:
    """``(app, model, plugin)``: an initialized app-server on a fresh home whose environment
    ``executor-1`` is ``executor``, its mock model, and the probe plugin to select."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    with tempfile.TemporaryDirectory(prefix="bench-side-") as tmp, MockModel(default=assistant_text("ok")) as model:
        base = Path(tmp)
        home = base / "home"
        write_config(home, model)
        write_executor(home, executor)
        plugin = write_plugin(base)
        with AppServerProcess(home, command=command, validate=False) as app:
            app.initialize()
            yield app, model, plugin


def start_with_plugin(app: Any, model: Any, plugin: Path) -> str:
    """A thread selecting the plugin, after the turns it takes until the model is offered the
    plugin's tool: the executor and the server (or its share of one) start in the background
    (the reference: with the first turn)."""
    thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": selected_root(plugin)},
                      timeout=120)["thread"]["id"]
    deadline = time.monotonic() + 120
    app.run_turn(thread, "warm")
    while "mcp__probe" not in json.dumps(model.requests[-1].body.get("tools")):
        if time.monotonic() > deadline:
            raise RuntimeError("the executor plugin's tool never reached the model")
        time.sleep(0.1)
        app.run_turn(thread, "warm again")
    return thread


def executor_run(command: list[str], executor: list[str], out: dict[str, list[float]]) -> None:
    from tests.fixtures.mock_model import assistant_text, function_call_response

    with executor_app(command, executor) as (app, model, plugin):
        thread = start_with_plugin(app, model, plugin)
        for index in range(1 + TOOL_TURNS):
            model.queue(function_call_response(f"call-{index}", "echo", json.dumps({"message": f"m{index}"}),
                                               namespace="mcp__probe"), assistant_text("done"))
            overhead = timed_turn(app, model, thread, f"call {index}")
            item = app.wait_notification(
                "item/completed",
                lambda m, call_id=f"call-{index}": m["params"]["item"]["type"] == "mcpToolCall"
                and m["params"]["item"]["id"] == call_id,
                timeout=30,
            )
            if item["params"]["item"]["status"] != "completed":
                raise RuntimeError(f"executor tool call failed: {item['params']['item']}")
            if index:
                out["tool_turn"].append(overhead)
        params = {"threadId": thread, "server": "probe", "tool": "echo", "arguments": {"message": "direct"}}
        app.call("mcpServer/tool/call", params, timeout=60)
        for _ in range(DIRECT_CALLS):
            t0 = time.perf_counter()
            app.call("mcpServer/tool/call", params)
            out["direct"].append(ms_since(t0))


def status_run(command: list[str], out: dict[str, list[float]]) -> None:
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    servers = "".join(
        f"\n[mcp_servers.s{i:02d}]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(STUB)}]\n"
        "startup_timeout_sec = 120\n" for i in range(SERVERS))
    with tempfile.TemporaryDirectory(prefix="bench-side-") as tmp, MockModel(default=assistant_text("ok")) as model:
        home = Path(tmp) / "home"
        write_config(home, model, extra=servers)
        with AppServerProcess(home, command=command, validate=False) as app:
            app.initialize()
            thread = app.call("thread/start", {"model": "mock-model"}, timeout=120)["thread"]["id"]
            app.run_turn(thread, "warm")

            def listed() -> list[dict[str, Any]]:
                return app.call("mcpServerStatus/list", {"threadId": thread}, timeout=60)["data"]

            wait_until(lambda: sum(1 for s in listed() if s.get("tools")) >= SERVERS, 120, "50 servers up", 0.3)
            for _ in range(STATUS_LISTS):
                t0 = time.perf_counter()
                listed()
                out["status50"].append(ms_since(t0))
            for index in range(2 + TURNS):
                overhead = timed_turn(app, model, thread, f"q{index}")
                if index >= 2:
                    out["turn50"].append(overhead)


def threads_run(command: list[str], executor: list[str]) -> dict[int, tuple[int, float]]:
    found: dict[int, tuple[int, float]] = {}
    with executor_app(command, executor) as (app, model, plugin):
        assert app.proc is not None
        threads: list[str] = []
        for level in THREAD_LEVELS:
            while len(threads) < level:
                threads.append(start_with_plugin(app, model, plugin))
            settled = process_tree(app.proc.pid)
            stable_since = time.monotonic()
            deadline = time.monotonic() + 30
            while time.monotonic() - stable_since < 1.0 and time.monotonic() < deadline:
                time.sleep(0.2)
                now = process_tree(app.proc.pid)
                if now[0] != settled[0]:
                    settled, stable_since = now, time.monotonic()
            found[level] = process_tree(app.proc.pid)
        app.close(timeout=60)
    return found


def run() -> Section:
    section = Section(title="Side by side: rootstep and codex 0.169 (issue 7 figures)")
    reference = reference_codex()
    kinds = ["rootstep"] + (["reference"] if reference else [])
    keys = ("cold", "first_thread", "thread_start", "turn", "tool_turn", "direct", "status50", "turn50")
    samples: dict[str, dict[str, list[float]]] = {k: {key: [] for key in keys} for k in kinds}
    failed: dict[str, str] = {}
    for index in range(PLAIN_RUNS):
        for scenario in ("plain", "executor", "status") if index < RUNS else ("plain",):
            for kind in kinds:
                if f"{kind}/{scenario}" in failed:
                    continue
                command = app_command(kind, reference)
                assert command is not None
                try:
                    if scenario == "plain":
                        plain_run(command, samples[kind])
                    elif scenario == "executor":
                        executor_run(command, executor_command(kind, reference), samples[kind])
                    else:
                        status_run(command, samples[kind])
                except Exception as exc:  # noqa: BLE001 - one failed scenario must not hide the rest
                    failed[f"{kind}/{scenario}"] = f"{type(exc).__name__}: {exc}"[:300]
    per_thread: dict[str, dict[int, tuple[int, float]]] = {}
    for kind in kinds:
        try:
            per_thread[kind] = threads_run(app_command(kind, reference) or [], executor_command(kind, reference))
        except Exception as exc:  # noqa: BLE001
            failed[f"{kind}/threads"] = f"{type(exc).__name__}: {exc}"[:300]

    def row(metric: str, key: str, unit: str = "ms", **kw: Any) -> Row:
        ours = samples["rootstep"][key]
        theirs = samples.get("reference", {}).get(key, [])
        return Row(metric, median(ours) if ours else None, unit, median(theirs) if theirs else None,
                   samples=ours, ref_samples=theirs, **kw)

    section.rows += [
        row("cold start: spawn → initialize response", "cold"),
        row("initialize → first thread/start response", "first_thread",
            note="the first request after initialize pays the imports initialize did not need"),
        row("thread/start round trip (warm)", "thread_start"),
        row("turn overhead, no tools (turn/start → turn/completed − mock time)", "turn"),
        row("turn with one executor-hosted MCP call (overhead beyond the mock's two responses)", "tool_turn"),
        row("warm `mcpServer/tool/call` to the executor-hosted server", "direct"),
        row(f"`mcpServerStatus/list` with {SERVERS} servers", "status50"),
        row(f"turn overhead with {SERVERS} unchanged servers", "turn50"),
    ]
    reuse: dict[str, float | None] = {}
    for kind in kinds:
        with_servers, plain = samples[kind]["turn50"], samples[kind]["turn"]
        reuse[kind] = median(with_servers) - median(plain) if with_servers and plain else None
    section.rows.append(Row(f"unchanged-step reuse cost: turn overhead with {SERVERS} servers − with none",
                            reuse.get("rootstep"), "ms", reuse.get("reference"),
                            note="what a step pays to find its tool set unchanged (and to send 50 servers' tools); a "
                            "difference of medians from two processes, so a value below zero is noise"))
    for level in THREAD_LEVELS:
        ours_t = per_thread.get("rootstep", {}).get(level)
        theirs_t = per_thread.get("reference", {}).get(level)
        section.rows.append(Row(f"{level} thread(s) sharing one executor plugin: processes in the tree",
                                float(ours_t[0]) if ours_t else None, "processes",
                                float(theirs_t[0]) if theirs_t else None))
        section.rows.append(Row(f"{level} thread(s) sharing one executor plugin: RSS summed over the tree",
                                ours_t[1] if ours_t else None, "MiB", theirs_t[1] if theirs_t else None))
    section.notes.append(
        f"Alternating runs (rootstep, then reference): {PLAIN_RUNS} of the plain scenario, {RUNS} of the others; "
        f"per run {THREAD_STARTS} thread/starts, "
        f"{TURNS} timed turns, {TOOL_TURNS} tool turns, {DIRECT_CALLS} direct calls, {STATUS_LISTS} status lists; "
        "cells: median (min–max, n=samples). Thread levels: one run per app.")
    section.notes.append(
        "Executor: each app-server runs its own project's exec-server (`rootstep exec-server` under rootstep, "
        "`codex exec-server` under the reference), declared in environments.toml as a stdio executor; the MCP "
        "servers are `tests/fixtures/mcp_stub_server.py` (stdlib only) so interpreter start-up does not dominate.")
    if reference is None:
        section.notes.append("reference codex not installed (`make reference`): reference column empty")
    for name, error in sorted(failed.items()):
        section.notes.append(f"not measured — {name}: {error}")
    return section


if __name__ == "__main__":
    print(run().markdown())
