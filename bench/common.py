"""Shared helpers: medians, ratios, timing subprocess start-up, the reference binary."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    metric: str
    rootstep: float | None
    unit: str = "ms"
    reference: float | None = None
    target: str = ""
    note: str = ""
    # Raw samples, when kept: the cells then show min–max next to the median.
    samples: Sequence[float] = ()
    ref_samples: Sequence[float] = ()

    @property
    def ratio(self) -> float | None:
        return ratio(self.rootstep, self.reference)


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Free-form output (e.g. what a bench module printed), shown as a code block.
    text: str = ""

    def markdown(self) -> str:
        if not self.rows:
            body = [f"## {self.title}", ""] + [f"- {note}" for note in self.notes]
            if self.text.strip():
                body += ["", "```", self.text.rstrip(), "```"]
            return "\n".join(body) + "\n"
        lines = [f"## {self.title}", "", "| metric | rootstep | reference codex | rootstep / reference | target |",
                 "|---|---|---|---|---|"]
        for row in self.rows:
            lines.append(
                f"| {row.metric} | {cell(row.rootstep, row.unit, row.samples)} | "
                f"{cell(row.reference, row.unit, row.ref_samples)} | "
                f"{'' if row.ratio is None else f'{row.ratio:.2f}×'} | {row.target} |"
            )
        lines.append("")
        lines += [f"- {note}" for note in self.notes]
        for row in self.rows:
            if row.note:
                lines.append(f"- {row.metric}: {row.note}")
        return "\n".join(lines) + "\n"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def cell(value: float | None, unit: str, samples: Sequence[float]) -> str:
    """The median, and ``(min–max, n=…)`` when there is more than one sample."""
    text = fmt(value, unit)
    if value is not None and len(samples) > 1:
        text += f" ({_num(min(samples))}–{_num(max(samples))}, n={len(samples)})"
    return text


def _num(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def machine_line() -> str:
    """CPU model, cores, memory and load: what the figures were measured on."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.1f} GiB RAM"
    except ImportError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg())
    return (f"Machine: {model}, {os.cpu_count()} cores{memory}{load}; {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}.")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall time of ``fn`` in ms, ``repeat`` times."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bare_python_ms(repeat: int = 10) -> float:
    """Median time to run ``python -c pass`` with the same interpreter."""
    return median(timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat))


def reference_codex() -> Path | None:
    env = os.environ.get("ROOTSTEP_REFERENCE_CODEX")
    if env and Path(env).exists():
        return Path(env)
    local = ROOT / ".reference" / "node_modules" / ".bin" / "codex"
    return local if local.exists() else None


def process_tree(pid: int) -> tuple[int, float]:
    """(processes, summed RSS in MiB) of ``pid`` and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0.0
    count, rss = 0, 0
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:
            pass
    return count, rss / 2**20
