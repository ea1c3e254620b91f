"""Process count and RSS at 50 threads with and without server sharing.

50 threads select the same plugin whose stdio MCP server (the bench stub) is declared with and
without ``shareable = true``; each thread makes one direct ``mcpServer/tool/call`` so its server
(or its share of one) is up. The figures are the app-server's whole process tree: processes and
summed RSS. The reference has no sharing (one process per server per thread), so its column is
empty; the "without" row is the per-thread behaviour both share.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, Section, process_tree

THREADS = int(os.environ.get("BENCH_SHARING_THREADS", "50"))
STUB = str(ROOT / "tests" / "fixtures" / "mcp_stub_server.py")


def write_plugin(base: Path, shareable: bool) -> Path:
    root = base / "plugin"
    (root / ".codex-plugin").mkdir(parents=True)
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps({"name": "probe-plugin"}))
    server: dict[str, Any] = {"command": sys.executable, "args": [STUB], "startup_timeout_sec": 120,
                              "shareable": shareable}
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"probe": server}}))
    return root


def one_run(shareable: bool) -> tuple[int, float, float]:
    """(processes, RSS MiB, seconds to start the threads and answer one call on each)."""
    from tests.fixtures.app_server import AppServerProcess
    from tests.fixtures.mock_model import MockModel, assistant_text, write_config

    with tempfile.TemporaryDirectory(prefix="bench-sharing-") as tmp, MockModel(default=assistant_text("ok")) as model:
        base = Path(tmp)
        home = base / "home"
        write_config(home, model)
        plugin = write_plugin(base, shareable)
        roots = [{"id": "probe-plugin@1", "location": {"type": "environment", "environmentId": "local",
                                                        "path": str(plugin)}}]
        with AppServerProcess(home, validate=False) as app:
            app.initialize()
            assert app.proc is not None
            t0 = time.perf_counter()
            threads = [app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": roots},
                                timeout=120)["thread"]["id"] for _ in range(THREADS)]
            tools = app.call("mcpServerStatus/list", {"threadId": threads[0]}, timeout=120)["data"]
            probe = next(e for e in tools if e["name"] == "probe")
            listed = probe["tools"]
            tool = next(iter(listed)) if isinstance(listed, dict) else listed[0]["name"]
            requests = [app.request("mcpServer/tool/call", {"threadId": t, "server": "probe", "tool": tool,
                                                            "arguments": {}}) for t in threads]
            for req in requests:
                app.wait_response(req, timeout=180)
            elapsed = time.perf_counter() - t0
            time.sleep(0.5)  # let the tree settle (exited helpers reaped)
            count, rss = process_tree(app.proc.pid)
            app.close(timeout=60)
    return count, rss, elapsed


def run() -> Section:
    section = Section(title=f"Server sharing: process count and RSS at {THREADS} threads")
    without = one_run(False)
    shared = one_run(True)
    section.rows += [
        Row(f"{THREADS} threads, server not shareable: processes (app-server tree)", without[0], unit=""),
        Row(f"{THREADS} threads, server shareable: processes (app-server tree)", shared[0], unit=""),
        Row(f"{THREADS} threads, server not shareable: RSS summed over the tree", without[1], unit="MiB"),
        Row(f"{THREADS} threads, server shareable: RSS summed over the tree", shared[1], unit="MiB"),
        Row(f"{THREADS} threads, server not shareable: thread/start ×{THREADS} + one call each", without[2] * 1000),
        Row(f"{THREADS} threads, server shareable: thread/start ×{THREADS} + one call each", shared[2] * 1000),
    ]
    section.notes.append(
        "One plugin with one stdio stub server selected by every thread (local environment); each thread "
        "makes one direct tool call. The reference runs one process per server per thread (no sharing)."
    )
    return section
