"""Commands the model runs, two ways.

* **The engine on its own** (no app-server): ``exec_command`` of ``true`` locally and in an
  executor (``rootstep exec-server`` over stdio), sandboxed and not, and 1 MB of output streamed
  through the manager (every byte as an ``outputDelta``).
* **End to end, next to codex 0.169** (the app-server process, the mock model, one turn of
  sequential calls; runs alternate rootstep / reference ``BENCH_EXEC_RUNS`` times so background
  load hits both alike): *model call → function output* — from the end of the model response
  that asked for ``exec_command`` of ``true`` to the arrival of the next request carrying its
  output — locally and in an executor (``rootstep exec-server`` under rootstep, ``codex
  exec-server`` under the reference); and 1 MB printed by a command streamed to the client as
  ``item/commandExecution/outputDelta`` (the turn's time beyond the mock's, and the bytes the
  client got).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio

from bench.common import Row, Section, median, reference_codex
from rootstep.agent_tools.unified_exec import (
    ExecContext,
    UnifiedExecManager,
    parse_approval_policy,
)
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.remote import RemoteEnvironment
from rootstep.sandbox import policy_from_mode, probe

N = 30
E2E_RUNS = int(os.environ.get("BENCH_EXEC_RUNS", "3"))
E2E_CALLS = 10
# Output a command prints before its item is announced (0.169: its first 150 ms) is not streamed:
# the 1 MB comes after a pause (left out of the throughput).
ONE_MB_SLEEP_S = 0.3
ONE_MB = "sleep 0.3; head -c 1048576 /dev/zero | tr '\\0' x"


class _Sink:
    def __init__(self) -> None:
        self.delta_bytes = 0

    async def item_started(self, item: dict[str, Any]) -> None:
        return None

    async def item_completed(self, item: dict[str, Any]) -> None:
        return None

    async def output_delta(self, params: dict[str, Any]) -> None:
        self.delta_bytes += len(params["delta"].encode())

    async def request_approval(self, params: dict[str, Any]) -> Any:
        return {"decision": "accept"}


async def _time_calls(env: Any, cwd: str, sandbox: str, cmd: str, n: int = N) -> tuple[float, int]:
    sink = _Sink()
    samples = []
    async with UnifiedExecManager() as manager:
        ctx = ExecContext(environment=env, environment_id="bench", cwd=cwd, thread_id="t", turn_id="u",
                          sandbox_policy=policy_from_mode(sandbox), approval_policy=parse_approval_policy("never"))
        await manager.exec_command(ctx, "warm", json.dumps({"cmd": cmd}), sink)
        for i in range(n):
            t0 = time.perf_counter()
            text = await manager.exec_command(ctx, f"c{i}", json.dumps({"cmd": cmd}), sink)
            samples.append((time.perf_counter() - t0) * 1000)
            assert "Process exited with code 0" in text, text
    return statistics.median(samples), sink.delta_bytes


async def _engine() -> Section:
    section = Section(title="unified exec engine (bench_exec)")
    with tempfile.TemporaryDirectory() as cwd:
        local = LocalEnvironment()
        full, _ = await _time_calls(local, cwd, "danger-full-access", "true")
        section.rows.append(Row("exec_command `true`, local, no sandbox", full, "ms"))
        if probe() is None:
            sandboxed, _ = await _time_calls(local, cwd, "workspace-write", "true")
            section.rows.append(Row("exec_command `true`, local, workspace-write sandbox", sandboxed, "ms"))
        else:
            section.notes.append(f"sandbox unavailable: {probe()}")
        t0 = time.perf_counter()
        _, streamed = await _time_calls(local, cwd, "danger-full-access", ONE_MB, n=5)
        mb_s = streamed / (1024 * 1024) / ((time.perf_counter() - t0) / 6 - ONE_MB_SLEEP_S)
        section.rows.append(Row("1 MB output streamed as outputDelta, local", mb_s, "MB/s", note="higher is better"))
        argv = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
        async with RemoteEnvironment.connect_stdio("bench", argv[0], argv[1:]) as remote:
            executor, _ = await _time_calls(remote, cwd, "danger-full-access", "true")
            section.rows.append(Row("exec_command `true`, rootstep exec-server", executor, "ms"))
            t0 = time.perf_counter()
            _, streamed = await _time_calls(remote, cwd, "danger-full-access", ONE_MB, n=5)
            mb_s = streamed / (1024 * 1024) / ((time.perf_counter() - t0) / 6 - ONE_MB_SLEEP_S)
            section.rows.append(
                Row("1 MB output streamed as outputDelta, executor", mb_s, "MB/s", note="higher is better")
            )
    section.notes.append(
        "call = exec_command parse → approval plan → spawn → output collected → function output text; median of 30"
    )
    return section


# --- end to end, side by side with 0.169 ---------------------------------------------------------


def _app_command(kind: str, reference: Path) -> list[str]:
    if kind == "rootstep":
        return [sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://"]
    return [str(reference), "app-server", "--listen", "stdio://"]


def _executor_command(kind: str, reference: Path) -> list[str]:
    if kind == "rootstep":
        return [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
    return [str(reference), "exec-server", "--listen", "stdio"]


def _e2e_run(kind: str, reference: Path, where: str, out: dict[str, list[float]]) -> None:
    """One app-server: a turn of :data:`E2E_CALLS` calls of ``true`` (the gaps between the model's
    requests), then a turn printing 1 MB."""
    from tests.agent_e2e.helpers import server, tune_config, write_executor
    from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp, MockModel() as model:
        home = Path(tmp) / "home"
        write_config(home, model)
        tune_config(home, sandbox="danger-full-access")
        work = Path(tmp) / "work"
        work.mkdir()
        params: dict[str, Any] = {"cwd": str(work)}
        if where == "executor":
            write_executor(home, _executor_command(kind, reference))
            params = {"environments": [{"environmentId": "exec-1", "cwd": str(work)}]}
        with server(home, _app_command(kind, reference), validate=False) as app:
            app.initialize()
            thread = app.call("thread/start", params, timeout=120)["thread"]["id"]
            for i in range(E2E_CALLS + 1):  # the first warms the executor link and the manager
                model.queue(function_call_response(f"t{i}", "exec_command", json.dumps({"cmd": "true"})))
            model.queue(assistant_text("done"))
            first = len(model.requests)
            run_turn_quietly(app, thread)
            requests = model.requests[first:]
            for before, after in list(pairwise(requests))[1:]:
                out[f"{where} call"].append((after.received_at - before.received_at - before.duration_s) * 1000)
            if where == "local":
                mb_call = function_call_response(
                    "mb", "exec_command", json.dumps({"cmd": ONE_MB, "yield_time_ms": 10000})
                )
                model.queue(mb_call, assistant_text("done"))
                first = len(model.requests)
                t0 = time.perf_counter()
                turn_id = run_turn_quietly(app, thread)
                total = (time.perf_counter() - t0) * 1000 - sum(r.duration_s for r in model.requests[first:]) * 1000
                deltas = app.notifications("item/commandExecution/outputDelta")
                delivered = sum(len(m["params"]["delta"].encode()) for m in deltas if m["params"]["turnId"] == turn_id)
                out["1 MB turn"].append(total - ONE_MB_SLEEP_S * 1000)  # the command's own pause
                out["1 MB delivered"].append(delivered / (1024 * 1024))
            app.close()


def run_turn_quietly(app: Any, thread: str) -> str:
    turn = app.call("turn/start", {"threadId": thread, "input": [{"type": "text", "text": "go"}]})["turn"]
    done = app.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn["id"], timeout=120)
    if done["params"]["turn"]["status"] != "completed":
        raise RuntimeError(f"turn ended {done['params']['turn']['status']}")
    return str(turn["id"])


def run_e2e() -> Section:
    section = Section(title="agent tools end to end, rootstep next to codex 0.169 (bench_exec)")
    reference = reference_codex()
    if reference is None:
        section.notes.append("reference codex binary absent: end-to-end figures skipped")
        return section
    samples: dict[str, dict[str, list[float]]] = {"rootstep": {}, "reference": {}}
    for _ in range(E2E_RUNS):
        for kind in ("rootstep", "reference"):
            for where in ("local", "executor"):
                out: dict[str, list[float]] = {}
                for key in ("local call", "executor call", "1 MB turn", "1 MB delivered"):
                    out.setdefault(key, [])
                _e2e_run(kind, reference, where, out)
                for key, values in out.items():
                    samples[kind].setdefault(key, []).extend(values)
    rows = (
        ("local call", "model call → function output, exec_command `true`, local", "ms"),
        ("executor call", "model call → function output, exec_command `true`, in an executor", "ms"),
        ("1 MB turn", "turn printing 1 MB, streamed as outputDelta (beyond the mock's time)", "ms"),
        ("1 MB delivered", "output the client got as outputDelta for that 1 MB", "MB"),
    )
    for key, metric, unit in rows:
        ours, theirs = samples["rootstep"].get(key) or [], samples["reference"].get(key) or []
        section.rows.append(Row(metric, median(ours) if ours else None, unit, median(theirs) if theirs else None,
                                samples=ours, ref_samples=theirs))
    section.notes.append(f"{E2E_RUNS} alternating runs per server; {E2E_CALLS} calls per run (after one warm-up call); "
                         "no sandbox (danger-full-access), approval never, mock-model")
    return section


async def run() -> Section:
    """The engine's figures, then the end-to-end ones with codex 0.169 beside them."""
    section = await _engine()
    e2e = await anyio.to_thread.run_sync(run_e2e)
    section.title = "commands: the unified-exec engine, and end to end next to codex 0.169 (bench_exec)"
    section.rows += e2e.rows
    section.notes += e2e.notes
    return section


if __name__ == "__main__":
    print(anyio.run(run).markdown())
