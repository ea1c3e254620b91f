"""Selected roots through the app-server process: what a projection change costs (issue 5 figures).

1. **Adding one root to 20 ready ones.** A thread selects 21 plugin roots (one stdio MCP server
   each): 20 in ``local`` and one in an environment that does not exist yet. After a first turn
   has started the 20 servers, ``environment/add`` brings the 21st root's executor (a websocket
   ``rootstep exec-server``) up; turns run until the model request lists the new root's tools.
   Measured: servers started besides the new one (pid files, counted after the server exited;
   rootstep must restart none — codex's source rebuilds the whole manager, yet 0.169 was observed
   restarting none here either) and the wall time from ``environment/add`` to
   the model request carrying the new tools. Same scenario, same run, ``codex app-server`` 0.169.
2. **A step whose ready roots are unchanged**, 100 selected roots x 5 servers, in process: the
   provider's reuse path (ready-root key computed from the environments, compared with the
   published one) — median time, and processes started (must be 0).

Run: ``.venv/bin/python bench/bench_selected_roots.py`` (or ``python -m bench bench_selected_roots``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, Section, median, reference_codex  # noqa: E402

ROOTS = 20
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
ECHO = str(Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mcp_echo_server.py")


def _plugin(base: Path, i: int) -> Path:
    root = base / f"plugin-{i:02d}"
    (root / ".codex-plugin").mkdir(parents=True)
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": f"plugin-{i}"}))
    server = {"command": sys.executable, "args": [ECHO], "env": {"MCP_TEST_PID_FILE": str(base / f"pids-{i:02d}")},
              "startup_timeout_sec": 120}  # 20 Python servers at once on a busy machine
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {f"srv_{i:02d}": server}}))
    return root


def _pids(base: Path, i: int) -> int:
    path = base / f"pids-{i:02d}"
    return len(path.read_text().split()) if path.exists() else 0


def _ws_executor() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rootstep", "exec-server", "--listen", "ws://127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def one_run(command: list[str] | None) -> tuple[int, float]:
    """(old servers restarted, ms from environment/add to the request with the new tools)."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    with tempfile.TemporaryDirectory() as tmp, MockModel(default=assistant_text("ok")) as model:
        base = Path(tmp)
        home = base / "home"
        write_config(home, model)
        roots = [
            {"id": f"p{i}@1", "location": {"type": "environment", "environmentId": "local" if i < ROOTS else "late",
                                            "path": str(_plugin(base, i))}}
            for i in range(ROOTS + 1)
        ]
        executor, url = _ws_executor()
        try:
            with AppServerProcess(home, command=command, validate=False, env={"ROOTSTEP_LOG": "WARNING"}) as app:
                app.initialize()
                thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": roots},
                                  timeout=120)["thread"]["id"]
                deadline = time.monotonic() + 120
                while sum(_pids(base, i) for i in range(ROOTS)) < ROOTS or not _has(model, ROOTS - 1):
                    app.run_turn(thread, "warm")
                    time.sleep(0.2)  # the reference samples before its servers are ready
                    if time.monotonic() > deadline:
                        raise RuntimeError("the 20 servers did not come up")
                before = [_pids(base, i) for i in range(ROOTS)]
                seen = len(model.requests)
                t0 = time.time()
                app.call("environment/add", {"environmentId": "late", "execServerUrl": url})
                arrived = None
                # Like codex's own test: the turn names the environments it runs with (the
                # reference does not pick up an environment added after thread start otherwise).
                environments = [{"environmentId": e, "cwd": str(base)} for e in ("local", "late")]
                while arrived is None:
                    app.run_turn(thread, "again", timeout=120, environments=environments)
                    for request in model.requests[seen:]:
                        if _tool_names(request.body) & {f"mcp__srv_{ROOTS:02d}"}:
                            arrived = request.received_at
                            break
                    seen = len(model.requests)
                    if time.time() - t0 > 120:
                        raise RuntimeError("the new root's tools never appeared")
                app.run_turn(thread, "settle", timeout=120, environments=environments)
                app.close(timeout=60)
            # Counted after the server exited: a restart in flight when the tools showed counts too.
            restarted = sum(_pids(base, i) - before[i] for i in range(ROOTS))
            return restarted, (arrived - t0) * 1000
        finally:
            executor.terminate()
            executor.wait(timeout=10)


def _tool_names(body: Any) -> set[str]:
    return {t.get("name") for t in (body.get("tools") or []) if isinstance(t, dict)}


def _has(model: Any, i: int) -> bool:
    return bool(model.requests) and f"mcp__srv_{i:02d}" in _tool_names(model.requests[-1].body)


class _Published:
    """Stands in for a published runtime: the reuse path only acquires it."""

    def acquire(self) -> _Published:
        return self


def reuse_path_us() -> tuple[float, int]:
    """Median of the provider's reuse path with 100 roots x 5 servers, and processes started."""
    import anyio
    import psutil

    from rootstep.environments.local import LocalEnvironment
    from rootstep.extensions.selected_plugins.reuse import RuntimeDecision
    from rootstep.protocol.capabilities import SelectedCapabilityRoot
    from tests.fixtures.thread_mcp import mcp_for_tests

    async def main() -> tuple[float, int]:
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        env = LocalEnvironment("local")
        with tempfile.TemporaryDirectory() as tmp:
            roots = []
            for i in range(100):
                root = Path(tmp) / f"p{i}"
                (root / ".codex-plugin").mkdir(parents=True)
                (root / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": f"p{i}"}))
                servers = {f"p{i}_s{j}": {"command": "python3", "args": ["-c", "pass"]} for j in range(5)}
                (root / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
                roots.append(SelectedCapabilityRoot.create(f"p{i}@1", "local", str(root)))
            async with mcp_for_tests("bench", roots=roots, environments=lambda e: env) as under_test:
                mcp = under_test.mcp
                # Publish the 100-root key without starting anything, then time the reuse path.
                ready = await mcp.ready_roots()
                mcp.state.publish(ready, await mcp._project(ready))
                mcp._runtime = _Published()  # type: ignore[assignment]  # any published runtime
                samples = []
                for _ in range(2000):
                    t = time.perf_counter_ns()
                    await mcp.resolve()
                    samples.append(time.perf_counter_ns() - t)
                started = {p.pid for p in psutil.Process().children(recursive=True)} - before
                assert mcp.pool.starts == 0 and set(mcp.decisions) == {RuntimeDecision.REUSE}
                mcp._runtime = None
                return median(samples) / 1000, len(started)

    return anyio.run(main)


def run() -> Section:
    section = Section(title="Selected roots: projection change and reuse (app-server processes)")
    reference = reference_codex()
    ref_cmd = [str(reference), "app-server", "--listen", "stdio://"] if reference else None
    ours: list[tuple[int, float]] = []
    theirs: list[tuple[int, float]] = []
    for _ in range(REPEAT):  # alternate, so machine load hits both alike
        ours.append(one_run(None))
        if ref_cmd is not None:
            try:
                theirs.append(one_run(ref_cmd))
            except Exception as exc:  # noqa: BLE001 - report, keep our figures
                section.notes.append(f"reference run failed: {exc}")
                ref_cmd = None
    section.rows.append(Row(
        "adding 1 root to 20 ready: old servers restarted", float(max(r for r, _ in ours)), "servers",
        float(max(r for r, _ in theirs)) if theirs else None, target="0 (only the new root's starts)",
    ))
    section.rows.append(Row(
        "adding 1 root to 20 ready: environment/add → request with the new tools", median([t for _, t in ours]), "ms",
        median([t for _, t in theirs]) if theirs else None,
        note="includes the executor's websocket connect and the turns run until the tools show",
    ))
    us, started = reuse_path_us()
    section.rows.append(Row("100 roots x 5 servers, ready roots unchanged: provider reuse path", us, "µs",
                            target="< 100 µs"))
    section.rows.append(Row("100 roots x 5 servers, ready roots unchanged: processes started", float(started),
                            "processes", target="0"))
    section.notes.append(f"{REPEAT} alternating runs; restarts are the maximum over runs, times the median.")
    return section


if __name__ == "__main__":
    os.environ.setdefault("ROOTSTEP_NO_PREWARM", "1")
    print(run().markdown())
