"""Exec-server figures, ours vs the reference `codex exec-server` 0.169 in the same run.

Both servers are driven by the same client (``RemoteEnvironment`` over a stdio link):

* executor start: spawn the executor and complete the handshake (median of 5);
* spawn + echo: ``process/start`` of ``cat``, write one line, receive it back, until
  ``process/closed`` after ``process/terminate`` (median of 30 after 3 warm-ups; target ≤ 1.2×);
* 10 MB file read: ``fs/readFile`` in one response, and streamed with ``fs/open`` +
  ``fs/readBlock`` (1 MiB blocks) + ``fs/close`` — throughput, median of 5 (higher is better).
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

from bench.common import Row, Section, median, reference_codex

ROOTSTEP = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
WARMUP, ECHOES, STARTS, READS = 3, 30, 5, 5
SIZE = 10 * 1024 * 1024
_ids = itertools.count(1)


async def _start_ms(argv: list[str]) -> float:
    from rootstep.environments import RemoteEnvironment

    samples = []
    for _ in range(STARTS):
        t0 = time.perf_counter()
        async with RemoteEnvironment.connect_stdio("bench", argv[0], argv[1:]) as env:
            await env.client()
            samples.append((time.perf_counter() - t0) * 1000)
    return median(samples)


async def _echo_and_read(argv: list[str], big: Path) -> tuple[float, float, float]:
    from rootstep.environments import RemoteEnvironment
    from rootstep.protocol.exec_server import ProcessStartParams, path_to_uri

    async with RemoteEnvironment.connect_stdio("bench", argv[0], argv[1:]) as env:
        client = await env.client()
        cwd = path_to_uri(str(big.parent))
        samples = []
        for index in range(WARMUP + ECHOES):
            t0 = time.perf_counter()
            session = await client.start_process(
                ProcessStartParams(
                    process_id=f"echo-{next(_ids)}", argv=["cat"], cwd=cwd, env={}, tty=False, pipe_stdin=True
                )
            )
            await session.write(b"ping\n")
            got = b""
            async for event in session.events:
                got += event.data
                if got.endswith(b"\n"):
                    break
            elapsed = (time.perf_counter() - t0) * 1000
            assert got == b"ping\n", got
            await session.terminate()
            async for _ in session.events:
                pass
            if index >= WARMUP:
                samples.append(elapsed)
        mb = SIZE / (1024 * 1024)
        whole, streamed = [], []
        for _ in range(READS):
            t0 = time.perf_counter()
            data = await env.read_file(str(big))
            whole.append(mb / (time.perf_counter() - t0))
            assert len(data) == SIZE
            t0 = time.perf_counter()
            total = 0
            async for chunk in env.read_file_streamed(str(big)):
                total += len(chunk)
            streamed.append(mb / (time.perf_counter() - t0))
            assert total == SIZE
        return median(samples), median(whole), median(streamed)


async def run() -> Section:
    ref = reference_codex()
    ref_argv = [str(ref), "exec-server", "--listen", "stdio"] if ref else None
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "ten-mb.bin"
        big.write_bytes(os.urandom(SIZE))
        ours_start = await _start_ms(ROOTSTEP)
        ours = await _echo_and_read(ROOTSTEP, big)
        ref_start = await _start_ms(ref_argv) if ref_argv else None
        theirs = await _echo_and_read(ref_argv, big) if ref_argv else (None, None, None)
    section = Section(title="exec-server (bench_exec_server)")
    section.rows = [
        Row("executor start (spawn + handshake)", ours_start, "ms", ref_start),
        Row("spawn + echo one line round trip", ours[0], "ms", theirs[0], target="≤ 1.2×"),
        Row("10 MB fs/readFile throughput", ours[1], "MB/s", theirs[1], note="higher is better"),
        Row("10 MB streamed read (fs/open+readBlock) throughput", ours[2], "MB/s", theirs[2], note="higher is better"),
    ]
    if ref is None:
        section.notes.append("reference codex absent (`make reference`): rootstep column only")
    return section


if __name__ == "__main__":
    print(anyio.run(run).markdown())
