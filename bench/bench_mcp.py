"""MCP figures.

* Warm ``mcpServer/tool/call`` round trip to a local stdio echo server through the app-server
  (median of 16 alternating blocks of 25 calls, each after 5 warm-up calls; also the median of
  the per-block ratios), next to the same ``tools/call`` made directly with the
  ``mcp`` SDK in one process (target ≤ 1.5×) and the reference ``codex app-server`` on the same
  config (target ≤ 1.0×).
* Runtime start with 10 stdio servers: wall time until all are ready vs the slowest single
  server's start (target ≤ 1.3×: servers start in parallel).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bench.bench_core import INIT, LineClient, reference_cmd, rootstep_cmd
from bench.common import Row, Section, median, reference_codex

ROOT = Path(__file__).resolve().parent.parent
ECHO = str(ROOT / "tests" / "fixtures" / "mcp_echo_server.py")
WARMUP = 5
CALLS = 50
ROUNDS = 16
BLOCK = 25
SERVERS = 10
START_RUNS = 3


def _config_extra() -> str:
    return (
        f"\n[mcp_servers.echo]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(ECHO)}]\n"
        "startup_timeout_sec = 60\n"
    )


class AppServerCaller:
    """One app-server with a thread, ready to make the same direct tool call again and again."""

    def __init__(self, cmd: list[str], home: Path) -> None:
        self.client = LineClient(cmd, home)
        self.client.call("initialize", json.loads(INIT)["params"])
        self.client.send({"method": "initialized"})
        thread_id = self.client.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        self.params = {"threadId": thread_id, "server": "echo", "tool": "echo", "arguments": {"message": "bench"}}

    def call_ms(self) -> float:
        t0 = time.perf_counter()
        result = self.client.call("mcpServer/tool/call", self.params)
        elapsed = (time.perf_counter() - t0) * 1000
        assert "ECHOING: bench" in json.dumps(result), result
        return elapsed

    def close(self) -> None:
        self.client.close()


async def interleaved_round_trips(callers: dict[str, AppServerCaller]) -> dict[str, float]:
    """Medians of rootstep, the reference and the direct SDK call, measured in alternating
    blocks so that load from anything else on the machine hits all of them alike."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[ECHO])
    samples: dict[str, list[float]] = {name: [] for name in [*callers, "sdk"]}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        for _ in range(ROUNDS):
            # blocks of calls keep each path warm; alternating blocks spreads machine load
            for name, caller in callers.items():
                for index in range(WARMUP + BLOCK):
                    elapsed = caller.call_ms()
                    if index >= WARMUP:
                        samples[name].append(elapsed)
            for index in range(WARMUP + BLOCK):
                t0 = time.perf_counter()
                await session.call_tool("echo", {"message": "bench"}, meta={"threadId": "bench"})
                if index >= WARMUP:
                    samples["sdk"].append((time.perf_counter() - t0) * 1000)
    medians = {name: median(values) for name, values in samples.items()}
    if "reference" in samples:
        medians["paired"] = paired_ratio(samples["rootstep"], samples["reference"], BLOCK)
    return medians


def paired_ratio(ours: list[float], reference: list[float], block: int) -> float:
    """Median over the alternating blocks of (our block median / the reference's next to it):
    drift in machine load between blocks cancels out of each ratio."""
    count = min(len(ours), len(reference)) // block
    return median([
        median(ours[i * block:(i + 1) * block]) / median(reference[i * block:(i + 1) * block]) for i in range(count)
    ])


async def sdk_call_ms() -> float:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[ECHO])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        samples = []
        for index in range(WARMUP + CALLS):
            t0 = time.perf_counter()
            await session.call_tool("echo", {"message": "bench"}, meta={"threadId": "bench"})
            if index >= WARMUP:
                samples.append((time.perf_counter() - t0) * 1000)
        return median(samples)


async def manager_call_ms() -> float:
    from rootstep.config.mcp_servers import parse_mcp_servers
    from rootstep.mcp.manager import ConnectionManager
    from rootstep.mcp.transports.factory import DefaultTransports

    servers = parse_mcp_servers({"mcp_servers": {"echo": {"command": sys.executable, "args": [ECHO]}}}).servers
    async with ConnectionManager(servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()
        samples = []
        for index in range(WARMUP + CALLS):
            t0 = time.perf_counter()
            await manager.call_tool("echo", "echo", {"message": "bench"}, meta={"threadId": "bench"})
            if index >= WARMUP:
                samples.append((time.perf_counter() - t0) * 1000)
        return median(samples)


STUB = str(ROOT / "tests" / "fixtures" / "mcp_stub_server.py")
STUB_DELAY_S = "0.5"


async def start_ms(count: int, args: list[str]) -> float:
    """Wall time from start to all ``count`` servers (``python <args>``) ready (ms)."""
    from rootstep.config.mcp_servers import parse_mcp_servers
    from rootstep.mcp.manager import ConnectionManager
    from rootstep.mcp.transports.factory import DefaultTransports

    table = {f"s{i}": {"command": sys.executable, "args": args, "startup_timeout_sec": 120} for i in range(count)}
    servers = parse_mcp_servers({"mcp_servers": table})
    t0 = time.perf_counter()
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        await manager.wait_ready()
        elapsed = (time.perf_counter() - t0) * 1000
        states = {c.state for c in manager.connections().values()}
        assert states == {"ready"}, states
        return elapsed


async def startup_figures(args: list[str]) -> tuple[float, float]:
    singles = [await start_ms(1, args) for _ in range(SERVERS)]
    slowest_single = max(singles)
    together = median([await start_ms(SERVERS, args) for _ in range(START_RUNS)])
    return together, slowest_single


def run() -> Section:
    from tests.fixtures.mock_model import MockModel, write_config

    section = Section(title="MCP: tool call round trip and parallel server start")
    reference = reference_codex()
    with tempfile.TemporaryDirectory(prefix="rootstep-bench-mcp-") as tmp, MockModel() as model:
        ours_home, ref_home = Path(tmp) / "ours", Path(tmp) / "ref"
        write_config(ours_home, model, extra=_config_extra())
        write_config(ref_home, model, extra=_config_extra())
        callers = {"rootstep": AppServerCaller(rootstep_cmd(), ours_home)}
        if reference is not None:
            try:
                callers["reference"] = AppServerCaller(reference_cmd(reference), ref_home)
            except Exception as exc:  # noqa: BLE001 - the reference is a comparison, not a must
                section.notes.append(f"reference tool call not measured: {exc}")
        try:
            medians = anyio.run(interleaved_round_trips, callers)
        finally:
            for caller in callers.values():
                caller.close()
        ours, sdk, ref = medians["rootstep"], medians["sdk"], medians.get("reference")
        manager = anyio.run(manager_call_ms)
        section.rows.append(Row("warm `mcpServer/tool/call` round trip (stdio echo)", ours, reference=ref,
                                target="≤ 1.0× reference; ≤ 1.5× direct SDK",
                                note=f"{ours / sdk:.2f}× the same call made directly with the mcp SDK in one process"
                                     + (f"; {medians['paired']:.2f}× the reference as the median of per-block ratios"
                                        if "paired" in medians else "")))
        section.rows.append(Row("same `tools/call` directly with the mcp SDK, one process", sdk))
        section.rows.append(Row("same call through rootstep's ConnectionManager, in process", manager,
                                note=f"{manager / sdk:.2f}× the direct SDK call"))
    together, slowest = anyio.run(startup_figures, [STUB, STUB_DELAY_S])
    section.rows.append(Row(f"start {SERVERS} stdio servers (start-up waits {STUB_DELAY_S} s) → all ready", together,
                            target="≤ 1.3× slowest single server",
                            note=f"{together / slowest:.2f}× the slowest of {SERVERS} single-server starts "
                                 f"({slowest:.1f} ms)"))
    together, slowest = anyio.run(startup_figures, [ECHO])
    section.rows.append(Row(f"start {SERVERS} Python SDK echo servers → all ready", together,
                            note=f"{together / slowest:.2f}× the slowest single start ({slowest:.1f} ms); each server "
                                 "spends ~1 s of CPU importing the SDK, so on a 2-core machine this is CPU-bound"))
    if reference is None:
        section.notes.append("reference codex not installed (`make reference`): reference column empty")
    section.notes.append(
        "the echo server is tests/fixtures/mcp_echo_server.py (Python, mcp SDK server side) for every column"
    )
    return section


if __name__ == "__main__":
    print(run().markdown())
