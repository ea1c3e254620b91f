"""Writes of ``config.toml`` (issue 16, item 7).

``rootstep mcp add`` and the "always" answer to an approval prompt rewrote a 0600
``config.toml`` (it can hold bearer tokens and headers) as 0644, and concurrent writers lost
each other's edits (three runs of 12 concurrent ``mcp add`` kept 6, 8 and 9 servers). Every
writer now goes through :mod:`rootstep.config.writer`: one ``fcntl`` lock, ``mkstemp`` in the
same folder, the old mode (at most 0600), ``fsync``, ``os.replace``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import tomlkit

from rootstep.mcp.approval_memory import persist_tool_approval

pytestmark = pytest.mark.timeout(180)
SECRET_CONFIG = ('# my servers\n[mcp_servers.api]\nurl = "https://api.example.test/mcp"\n'
                 'http_headers = { Authorization = "Bearer s3cret" }\n')


def mcp(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "rootstep", "mcp", *args],
                            env={**os.environ, "CODEX_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_mcp(home: Path, *args: str) -> None:
    proc = mcp(home, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def servers(path: Path) -> dict:
    return dict(tomlkit.parse(path.read_text())["mcp_servers"])


@pytest.mark.parametrize(("before", "after"), [(0o600, 0o600), (0o400, 0o400), (0o644, 0o600), (None, 0o600)])
def test_mcp_add_and_remove_keep_the_file_private(tmp_path: Path, before: int | None, after: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    if before is not None:
        config.write_text(SECRET_CONFIG)
        config.chmod(before)
    run_mcp(home, "add", "echo", "--", "echo-mcp", "--flag")
    assert mode(config) == after
    run_mcp(home, "remove", "echo")
    assert mode(config) == after
    if before is not None:
        assert config.read_text().strip() == SECRET_CONFIG.strip()  # comments and the rest survive
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []


def test_the_always_approval_write_keeps_the_file_private(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(SECRET_CONFIG)
    config.chmod(0o600)
    persist_tool_approval(config, "api", "search")
    assert mode(config) == 0o600
    assert servers(config)["api"]["tools"]["search"]["approval_mode"] == "approve"
    assert "Bearer s3cret" in config.read_text()


def test_concurrent_writers_lose_no_edit(tmp_path: Path) -> None:
    """12 ``mcp add`` processes at once, while this process writes "always" approvals: every
    server and every approval is kept."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text(SECRET_CONFIG)
    config.chmod(0o600)
    procs = [mcp(home, "add", f"server{i}", "--", "echo-mcp", str(i)) for i in range(12)]
    errors: list[BaseException] = []

    def approve(i: int) -> None:
        try:
            persist_tool_approval(config, "api", f"tool{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    found = servers(config)
    assert sorted(found) == sorted(["api", *(f"server{i}" for i in range(12))])
    assert sorted(found["api"]["tools"]) == sorted(f"tool{i}" for i in range(6))
    assert mode(config) == 0o600
