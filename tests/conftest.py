"""Shared test fixtures: the reference binary, and a guard that no child process leaks."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.mock_model import MockModel

ROOT = Path(__file__).resolve().parent.parent

# Commands the agent runs get a socket as stdin (as under 0.169). Bash then sources the user's
# ~/.bashrc when it believes it is the first shell (SHLVL unset or 0, as under a detached job
# or some CI runners), and a .bashrc that prints (pyenv's rehash inside the sandbox does) would
# add lines to every command's output. The tests check outputs, not this machine's rc files.
if os.environ.get("SHLVL", "0") in ("", "0"):
    os.environ["SHLVL"] = "1"


def reference_codex_path() -> Path | None:
    """The reference `codex` 0.169.0 binary installed by `make reference`, if present."""
    env = os.environ.get("ROOTSTEP_REFERENCE_CODEX")
    if env:
        return Path(env)
    local = ROOT / ".reference" / "node_modules" / ".bin" / "codex"
    return local if local.exists() else None


@pytest.fixture
def reference_codex() -> Path:
    path = reference_codex_path()
    if path is None:
        reason = "npm is not installed" if shutil.which("npm") is None else "run `make reference` first"
        pytest.skip(f"reference codex binary absent: {reason}")
    return path


@pytest.fixture
def python_exe() -> str:
    return sys.executable


def descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture
def model() -> Iterator[MockModel]:
    """A mock Responses API on loopback (``tests/fixtures/mock_model.py``) for the test's app-server."""
    with MockModel() as server:
        yield server


# The longest files go first: `make test` runs on two workers a file at a time, and one of these
# started last would be the only thing running at the end.
SLOW_FILES = (
    "tests/sdk_suite/test_upstream_sdk_suite.py",
    "tests/reliability/test_load.py",
    "tests/reliability/test_leaks.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)

    items.sort(key=rank)  # stable: the rest keep their order
