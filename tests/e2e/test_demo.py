"""`rootstep demo` runs offline on a fresh home and tells the whole story."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import descendants


@pytest.mark.timeout(120)
def test_demo_runs_offline(tmp_path) -> None:
    before = descendants()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CODEX_HOME")}
    env["HOME"] = str(tmp_path)
    env["COLUMNS"] = "200"
    done = subprocess.run([sys.executable, "-m", "rootstep", "demo"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Hi! I'm rootstep" in out
    assert "resumed" in out and "1 earlier turn(s)" in out
    assert "You asked me what I am" in out
    assert out.count("turn completed") == 2
    # The thread selected the demo plugin in an executor; its tool ran there.
    assert "tool demo_notes/add_note (plugin demo-plugin@1)" in out
    assert "demo-executor (rootstep exec-server)" in out
    assert descendants() - before == set()
