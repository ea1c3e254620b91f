"""Per-step projection costs of selected capability roots (issue 5 figures).

1. A step whose ready roots are unchanged, 100 selected roots x 5 servers each: median time of
   the reuse decision (target < 0.1 ms) and processes started (must be 0).
2. Adding one root to 20 ready ones: servers to (re)start according to the plan (must be only
   the new root's 5) and the median time to compute the new projection from cached metadata.

Run: ``.venv/bin/python bench/bench_projection.py``. Real plugin folders on disk, read through
an ``Environment``; the ready roots of each step are fresh objects (no identity shortcut).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rootstep.extensions.selected_plugins import (  # noqa: E402
    McpProjection,
    PublishedInputs,
    ResolvedMcpCatalog,
    RuntimeDecision,
    SelectedCapabilityRoot,
    SelectedPluginsState,
    decide_runtime,
    project_step,
)

try:  # the real environment when it exists; the test filesystem environment otherwise
    from rootstep.environments.local import LocalEnvironment as _Env  # type: ignore[import-not-found]

    def make_env(env_id: str):  # type: ignore[no-untyped-def]
        return _Env()
except ImportError:  # pragma: no cover - depends on the environments engineer's progress
    from tests.plugins.fs_env import FsEnvironment as _Env  # type: ignore[assignment]

    def make_env(env_id: str):  # type: ignore[no-untyped-def]
        return _Env(env_id)


ROOTS = 100
SERVERS = 5
ITERATIONS = 5000


def write_plugins(base: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        root = base / f"plugin-{i:03d}"
        (root / ".codex-plugin").mkdir(parents=True)
        (root / ".codex-plugin/plugin.json").write_text(json.dumps({"name": f"plugin-{i}"}))
        servers = {f"p{i:03d}_s{j}": {"command": "python3", "args": ["-c", "pass"]} for j in range(SERVERS)}
        (root / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
        paths.append(root)
    return paths


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


async def main() -> None:
    env = make_env("local")
    environments = {env.id: env}.get
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_plugins(Path(tmp), ROOTS + 1)

        def ready(n: int) -> list[SelectedCapabilityRoot]:  # fresh objects each step
            return [SelectedCapabilityRoot.create(f"root-{i}", env.id, str(paths[i])) for i in range(n)]

        state = SelectedPluginsState()
        empty = PublishedInputs((), McpProjection(ResolvedMcpCatalog()))
        t0 = time.perf_counter()
        first = await project_step(ready(ROOTS), state, environments)
        cold_ms = (time.perf_counter() - t0) * 1000
        assert decide_runtime(empty, ready(ROOTS), first) is RuntimeDecision.REBUILD
        published = PublishedInputs(tuple(ready(ROOTS)), first)
        assert len(published.projection.catalog.servers) == ROOTS * SERVERS

        # --- 1. unchanged ready roots: the reuse decision
        samples = []
        for _ in range(ITERATIONS):
            step_roots = ready(ROOTS)
            t = time.perf_counter_ns()
            d = decide_runtime(published, step_roots, None)
            samples.append(time.perf_counter_ns() - t)
            assert d is RuntimeDecision.REUSE
        started = {p.pid for p in psutil.Process().children(recursive=True)} - before
        print(f"[1] {ROOTS} roots x {SERVERS} servers, ready roots unchanged")
        print(f"    cold first step (read {ROOTS} plugins + project): {cold_ms:.1f} ms")
        print(f"    reuse decision median: {median_us(samples):.2f} us  (target < 100 us)")
        print(f"    processes started: {len(started)}")

        # --- 2. one more root next to 20 ready ones
        base_roots = ready(20)
        twenty = PublishedInputs(tuple(base_roots), await project_step(base_roots, state, environments))
        grown = ready(20) + [SelectedCapabilityRoot.create(f"root-{ROOTS}", env.id, str(paths[ROOTS]))]
        times = []
        for _ in range(200):
            t = time.perf_counter_ns()
            projection = await project_step(grown, state, environments)
            times.append(time.perf_counter_ns() - t)
        decision = decide_runtime(twenty, grown, projection)
        print("[2] adding 1 root to 20 ready roots")
        print(f"    decision: {decision.value} (the server pool then starts only the new root's servers)")
        print(f"    projection of 21 roots from cache, median: {median_us(times):.1f} us")
        print("    (reference comparison needs the app-server integration; not measured here)")


if __name__ == "__main__":
    anyio.run(main)
