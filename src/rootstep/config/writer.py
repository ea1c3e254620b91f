"""Writing ``config.toml``: every writer edits it the same way, one at a time, privately.

``config.toml`` can hold bearer tokens and HTTP headers, and several writers change it:
``rootstep mcp add|remove`` (any number of processes at once), the "always" answer to an
approval prompt and ``config/value/write`` / ``config/batchWrite`` (inside a running
app-server). So every edit is a read-modify-write of the whole document under one exclusive
``fcntl`` lock (``config.toml.lock`` beside it), and the new text is written to a ``mkstemp``
file in the same folder, given the old file's mode (never more than 0600; 0600 for a new file),
flushed with ``fsync`` and moved into place with ``os.replace``: a reader sees the old file or
the new one, never a mix, never a wider mode, and no edit is lost to another.

Usage::

    with locked_config(path) as config:
        config.doc["mcp_servers"]["x"] = table
        config.save()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from rootstep.config.home import make_private_dirs

PRIVATE_MODE = 0o600


class ConfigFileError(Exception):
    """``config.toml`` could not be parsed (the message names the file)."""


def read_document(path: Path) -> tomlkit.TOMLDocument:
    """The document at ``path`` (empty when there is no file). Raises :class:`ConfigFileError`."""
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - tomlkit raises several kinds
        raise ConfigFileError(f"failed to parse {path}: {exc}") from exc


def new_file_mode(old_mode: int | None) -> int:
    """The permission bits a rewrite gets: the old file's, never more than 0600 (pure)."""
    return PRIVATE_MODE if old_mode is None else stat.S_IMODE(old_mode) & PRIVATE_MODE


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, keeping its mode (at most 0600)."""
    make_private_dirs(path.parent)
    try:
        old_mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        old_mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode(old_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def writers_lock(path: Path) -> Iterator[None]:
    """Hold the writers' lock of ``path`` for a read-modify-write (blocking: call from a worker
    thread when async)."""
    target = lock_path(path)
    make_private_dirs(target.parent)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class ConfigDocument:
    """The document being edited under the lock; :meth:`save` writes it back."""

    path: Path
    doc: tomlkit.TOMLDocument

    def save(self) -> None:
        write_private(self.path, tomlkit.dumps(self.doc))


@contextlib.contextmanager
def locked_config(path: Path) -> Iterator[ConfigDocument]:
    """Read ``path`` under the writers' lock for an edit; the lock is held until the block ends,
    so the edit is made to the latest file and no other writer's edit is lost."""
    with writers_lock(path):
        yield ConfigDocument(path, read_document(path))
