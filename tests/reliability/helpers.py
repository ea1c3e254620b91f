"""Helpers of the reliability suite: MCP server tables, process accounting, polling."""

from __future__ import annotations

from tests.fixtures.mcp_helpers import ECHO_SERVER, echo_server_toml

__all__ = ["describe", "echo_pids", "echo_server_toml", "wait_until"]


def echo_pids(app_pid: int) -> set[int]:
    """Live echo-server processes under the app-server (by their script path)."""
    import psutil

    out: set[int] = set()
    try:
        children = psutil.Process(app_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return out
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE and ECHO_SERVER in " ".join(child.cmdline()):
                out.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def describe(pids: set[int]) -> str:
    """``pid: command line`` of each process, for failure messages."""
    import psutil

    out = []
    for pid in sorted(pids):
        try:
            out.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())[:200]}")
        except psutil.NoSuchProcess:
            out.append(f"{pid}: (gone)")
    return "; ".join(out)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02, what: str = "condition") -> None:  # noqa: ANN001
    """Poll for a state a user would notice (a correctness wait, never a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)

