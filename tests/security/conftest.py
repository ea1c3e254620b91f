"""Fixtures of the security suite: processes under a memory ceiling, hostile files, a home.

An attack that makes a process read without end must fail the test, not swap the machine: every
process a test attacks runs under ``RLIMIT_AS`` (:func:`memory_capped`), so a regression is a
``MemoryError`` / an error answer instead of gigabytes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.app_server import AppServerProcess, checked_app_server, rootstep_command
from tests.fixtures.mock_model import MockModel, assistant_text, write_config

# Far above what a healthy app-server or exec-server maps (~150 MiB), far below what the
# attacks would take (gigabytes).
MEMORY_CEILING = 1024 * 1024 * 1024


def memory_capped(argv: list[str], limit: int = MEMORY_CEILING, *, nofile: int | None = None) -> list[str]:
    """``argv`` started under an address-space limit (and, with ``nofile``, a descriptor limit),
    set in the child, which then ``exec``s."""
    code = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
        + (f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile})); " if nofile else "")
        + "os.execvp(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", code, *argv]


def capped_rootstep(*extra: str) -> list[str]:
    """``rootstep app-server --listen stdio://`` under :data:`MEMORY_CEILING`."""
    return memory_capped(rootstep_command(*extra))


CAPPED_EXEC_SERVER = memory_capped([sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def model() -> Iterator[MockModel]:
    """The mock Responses endpoint; every turn gets a plain answer unless a test scripts one."""
    with MockModel(default=assistant_text("done")) as server:
        yield server


@pytest.fixture
def codex_home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model)
    return home


@pytest.fixture
def app(codex_home: Path) -> Iterator[AppServerProcess]:
    """An initialized app-server under the memory ceiling (no leak, no schema violation)."""
    with checked_app_server(codex_home, command=capped_rootstep()) as server:
        yield server


def make_fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def make_sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file that claims ``size`` bytes (holes read as zeros) without using the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def link_to(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path
