"""Cross-process locks under ``CODEX_HOME/mcp-oauth-locks/``.

Two kinds, as in the reference: one lock for the aggregate ``.credentials.json`` (held for a whole
read-modify-write), and one lock per credential held for a whole refresh transaction (re-read,
token request, save) so two processes never spend the same refresh token. ``flock`` locks belong
to an open file description, so two opens in one process exclude each other too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio

from rootstep.mcp.oauth.errors import CredentialStoreError

LOCK_DIR = "mcp-oauth-locks"
FILE_STORE_LOCK = "file-store.lock"
ACQUIRE_TIMEOUT_SECS = 60.0
RETRY_SLEEP_SECS = 0.05


def store_lock_path(codex_home: Path) -> Path:
    return codex_home / LOCK_DIR / FILE_STORE_LOCK


def refresh_lock_path(codex_home: Path, key: str) -> Path:
    return codex_home / LOCK_DIR / f"{hashlib.sha256(key.encode()).hexdigest()}.lock"


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def locked(path: Path, timeout: float = ACQUIRE_TIMEOUT_SECS) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (blocking; call from a worker thread)."""
    fd = _open(path)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise CredentialStoreError(f"timed out waiting for the lock {path}")
            time.sleep(RETRY_SLEEP_SECS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.asynccontextmanager
async def locked_async(path: Path, timeout: float = ACQUIRE_TIMEOUT_SECS) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` without blocking the event loop while waiting."""
    fd = _open(path)
    try:
        with anyio.fail_after(timeout):
            while not _try_lock(fd):
                await anyio.sleep(RETRY_SLEEP_SECS)
        yield
    except TimeoutError:
        raise CredentialStoreError(f"timed out waiting for the lock {path}") from None
    finally:
        os.close(fd)
