"""The unified-exec engine on its own (no app-server): ``exec_command`` of ``true`` locally and
in an executor (``rootstep exec-server`` over stdio), sandboxed and not, and 1 MB of output
streamed through the manager (every byte as an ``outputDelta``). The lead compares these with
0.169 end to end once the engine is wired into the turn loop."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from typing import Any

import anyio

from bench.common import Row, Section
from rootstep.agent_tools.unified_exec import (
    ExecContext,
    UnifiedExecManager,
    parse_approval_policy,
)
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.remote import RemoteEnvironment
from rootstep.sandbox import policy_from_mode, probe

N = 30


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


async def run() -> Section:
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
        _, streamed = await _time_calls(local, cwd, "danger-full-access", "head -c 1048576 /dev/zero | tr '\\0' x", n=5)
        mb_s = streamed / (1024 * 1024) / ((time.perf_counter() - t0) / 6)
        section.rows.append(Row("1 MB output streamed as outputDelta, local", mb_s, "MB/s", note="higher is better"))
        argv = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
        async with RemoteEnvironment.connect_stdio("bench", argv[0], argv[1:]) as remote:
            executor, _ = await _time_calls(remote, cwd, "danger-full-access", "true")
            section.rows.append(Row("exec_command `true`, rootstep exec-server", executor, "ms"))
            t0 = time.perf_counter()
            _, streamed = await _time_calls(remote, cwd, "danger-full-access", "head -c 1048576 /dev/zero | tr '\\0' x", n=5)
            mb_s = streamed / (1024 * 1024) / ((time.perf_counter() - t0) / 6)
            section.rows.append(Row("1 MB output streamed as outputDelta, executor", mb_s, "MB/s", note="higher is better"))
    section.notes.append("call = exec_command parse → approval plan → spawn → output collected → function output text; median of 30")
    return section


if __name__ == "__main__":
    print(anyio.run(run).markdown())
