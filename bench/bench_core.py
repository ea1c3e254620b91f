"""Core figures: cold start to ``initialize``, and turn overhead over the mock model.

* Cold start: spawn → the ``initialize`` response line, median of 10, next to a bare
  ``python -c pass`` (target: at most 3×) and the reference ``codex app-server``.
* Turn overhead: ``turn/start`` sent → ``turn/completed`` read, minus the mock model's own
  time for that request (arrival to last byte), median over 30 turns after 3 warm-up turns
  (target: under 5 ms); same for the reference binary against the same mock.
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

from bench.common import Row, Section, median, reference_codex

COLD_RUNS = 10
WARMUP_TURNS = 3
THREAD_STARTS = 10
TURNS = 30

INIT = json.dumps(
    {"id": 0, "method": "initialize",
     "params": {"clientInfo": {"name": "rootstep-bench", "title": None, "version": "0.1.0"},
                "capabilities": {"experimentalApi": True}}}
) + "\n"


def rootstep_cmd() -> list[str]:
    return [sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://"]


def reference_cmd(binary: Path) -> list[str]:
    return [str(binary), "app-server", "--listen", "stdio://"]


class LineClient:
    """Blocking, single-threaded: write a request, read lines until what we wait for."""

    def __init__(self, cmd: list[str], home: Path) -> None:
        env = {**os.environ, "CODEX_HOME": str(home), "RUST_LOG": "warn"}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=home)
        self.next_id = 1

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("server closed stdout")
        return json.loads(line)

    def call(self, method: str, params: Any) -> Any:
        req_id = self.next_id
        self.next_id += 1
        self.send({"id": req_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == req_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cold_start_once(cmd: list[str], home: Path) -> float:
    """Spawn → the initialize response line, in ms (the process is then closed, untimed)."""
    samples = []
    for _ in range(1):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "CODEX_HOME": str(home), "RUST_LOG": "warn"}, cwd=home)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(INIT.encode())
        proc.stdin.flush()
        line = proc.stdout.readline()
        samples.append((time.perf_counter() - t0) * 1000)
        assert b'"result"' in line, line
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return samples[0]


def bare_once() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - t0) * 1000


def cold_starts(home: Path, ref_home: Path, reference: Path | None) -> tuple[float, float, float | None]:
    """Medians of bare python, rootstep and the reference, measured alternately so that
    background load hits all three alike."""
    bare, ours, ref = [], [], []
    for _ in range(COLD_RUNS):
        bare.append(bare_once())
        ours.append(cold_start_once(rootstep_cmd(), home))
        if reference is not None:
            ref.append(cold_start_once(reference_cmd(reference), ref_home))
    return median(bare), median(ours), (median(ref) if ref else None)


def turn_overhead_ms(cmd: list[str], home: Path, model: Any) -> dict[str, float]:
    """Medians in ms: turn overhead, mock time, thread/start round trip; and the first turn."""
    from tests.fixtures.mock_model import assistant_text

    client = LineClient(cmd, home)
    try:
        client.call("initialize", json.loads(INIT)["params"])
        client.send({"method": "initialized"})
        starts = []
        for _ in range(THREAD_STARTS):
            t0 = time.perf_counter()
            thread_id = client.call("thread/start", {"model": "mock-model"})["thread"]["id"]
            starts.append((time.perf_counter() - t0) * 1000)
        overheads, mock_times = [], []
        first_turn = 0.0
        for index in range(WARMUP_TURNS + TURNS):
            model.queue(assistant_text(f"answer {index}", deltas=["answer", f" {index}"]))
            before = len(model.requests)
            t0 = time.perf_counter()
            client.send({"id": f"t{index}", "method": "turn/start",
                         "params": {"threadId": thread_id, "input": [{"type": "text", "text": f"q{index}"}]}})
            while True:
                message = client.read()
                if message.get("method") == "turn/completed":
                    break
            total = (time.perf_counter() - t0) * 1000
            mock_ms = sum(r.duration_s for r in model.requests[before:]) * 1000
            if index == 0:
                first_turn = total
            if index >= WARMUP_TURNS:
                overheads.append(total - mock_ms)
                mock_times.append(mock_ms)
        return {"overhead": median(overheads), "mock": median(mock_times), "thread_start": median(starts),
                "first_turn": first_turn}
    finally:
        client.close()


def run() -> Section:
    from tests.fixtures.mock_model import MockModel, write_config

    section = Section(title="Core: start-up and turn overhead")
    reference = reference_codex()
    with tempfile.TemporaryDirectory(prefix="rootstep-bench-") as tmp, MockModel() as model:
        ours_home, ref_home = Path(tmp) / "ours", Path(tmp) / "ref"
        write_config(ours_home, model)
        write_config(ref_home, model)
        bare, ours, ref = cold_starts(ours_home, ref_home, reference)
        section.rows.append(Row("`python -c pass`", bare))
        section.rows.append(Row("cold start → initialize response", ours, reference=ref,
                                target=f"≤ 3× python -c pass ({3 * bare:.1f} ms)",
                                note=f"{ours / bare:.2f}× a bare `python -c pass`"))
        ours_t = turn_overhead_ms(rootstep_cmd(), ours_home, model)
        ref_t: dict[str, float] = {}
        if reference:
            try:
                ref_t = turn_overhead_ms(reference_cmd(reference), ref_home, model)
            except Exception as exc:  # noqa: BLE001 - the reference is a comparison, not a must
                section.notes.append(f"reference turn overhead not measured: {exc}")
        section.rows.append(Row("turn overhead (turn/start → turn/completed − mock time)", ours_t["overhead"],
                                reference=ref_t.get("overhead"), target="< 5 ms"))
        section.rows.append(Row("mock model time per turn (for scale)", ours_t["mock"], reference=ref_t.get("mock")))
        section.rows.append(Row("thread/start round trip", ours_t["thread_start"], reference=ref_t.get("thread_start")))
        section.rows.append(Row("first turn of the process (includes lazy imports)", ours_t["first_turn"],
                                reference=ref_t.get("first_turn"), note="one sample"))
    if reference is None:
        section.notes.append("reference codex not installed (`make reference`): reference column empty")
    section.notes.append(
        "rootstep answers `initialize` from a stdlib-only fast path, then imports pydantic/anyio and its "
        "processors; `openai` is imported at the first turn (hence the first-turn row)."
    )
    return section
