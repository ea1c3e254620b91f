"""Filesystem primitives over the host, shared by ``LocalEnvironment`` and the exec-server.

Plain synchronous functions (callers run them in a worker thread); failures are ``OSError``
so each caller maps them to its own vocabulary (``None`` for "absent", or a JSON-RPC code).
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rootstep.bounded_read import DEFAULT_READ_LIMIT, read_regular_file

if TYPE_CHECKING:
    from rootstep.environments.base import FileMetadata

MAX_WALK_DEPTH = 64
MAX_WALK_DIRECTORIES = 10_000
MAX_WALK_ENTRIES = 50_000
MAX_DIRECTORY_ENTRIES = 50_000


class InvalidInput(ValueError):
    """A request that can never succeed (bad limits); the exec-server maps it to -32600."""


def os_error_text(exc: OSError) -> str:
    """The reference executor's wording: ``No such file or directory (os error 2)``."""
    if exc.errno is not None and exc.strerror:
        return f"{exc.strerror} (os error {exc.errno})"
    return str(exc)


@dataclass(frozen=True)
class Metadata:
    is_directory: bool
    is_file: bool
    is_symlink: bool
    size: int
    created_at_ms: int
    modified_at_ms: int

    def to_file_metadata(self) -> FileMetadata:
        from rootstep.environments.base import FileMetadata

        return FileMetadata(self.is_directory, self.is_file, self.is_symlink, self.size)


def metadata(path: str) -> Metadata:
    """``stat`` following symlinks, plus ``is_symlink`` from ``lstat``."""
    lst = os.lstat(path)
    st = os.stat(path) if stat.S_ISLNK(lst.st_mode) else lst
    created = getattr(st, "st_birthtime", None)
    return Metadata(
        is_directory=stat.S_ISDIR(st.st_mode),
        is_file=stat.S_ISREG(st.st_mode),
        is_symlink=stat.S_ISLNK(lst.st_mode),
        size=st.st_size,
        created_at_ms=int(created * 1000) if created else 0,
        modified_at_ms=int(st.st_mtime * 1000),
    )


def read_file(path: str, limit: int = DEFAULT_READ_LIMIT) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (:mod:`rootstep.bounded_read`)."""
    return read_regular_file(path, limit)


def write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def create_directory(path: str, recursive: bool = True) -> None:
    if recursive:
        os.makedirs(path, exist_ok=True)
    else:
        os.mkdir(path)


def remove(path: str, recursive: bool = False, force: bool = False) -> None:
    """A file, a symlink, or a directory (emptied first when ``recursive``)."""
    import shutil

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            if recursive:
                shutil.rmtree(path)
            else:
                os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        if not force:
            raise


def copy_file(source: str, destination: str) -> None:
    """Content and permission bits."""
    import shutil

    shutil.copyfile(source, destination)
    shutil.copymode(source, destination)


def rename(source: str, destination: str) -> None:
    """Atomic on one filesystem; replaces a file destination."""
    os.replace(source, destination)


def read_directory(path: str) -> list[tuple[str, bool, bool]]:
    """(name, is_directory, is_file) in OS order; symlinks followed, broken ones neither."""
    out: list[tuple[str, bool, bool]] = []
    with os.scandir(path) as it:
        for entry in it:
            if len(out) >= MAX_DIRECTORY_ENTRIES:
                raise OSError(f"directory has more than {MAX_DIRECTORY_ENTRIES} entries")
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                is_dir = is_file = False
            out.append((entry.name, is_dir, is_file))
    return out


def canonicalize(path: str) -> str:
    os.stat(path)  # realpath does not fail on a missing path; the reference does
    return os.path.realpath(path)


@dataclass
class WalkOutcome:
    entries: list[tuple[str, str]] = field(default_factory=list)  # (path, "file"|"directory")
    errors: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False


def walk(
    root: str,
    *,
    max_depth: int,
    max_directories: int,
    max_entries: int,
    follow_directory_symlinks: bool,
    prune_hidden_directories: bool = False,
) -> WalkOutcome:
    """Breadth-first walk, entries of each directory sorted by name bytes (spec §2.4 ``fs/walk``)."""
    outcome = WalkOutcome()
    root_meta = metadata(root)
    if not root_meta.is_directory or (root_meta.is_symlink and not follow_directory_symlinks):
        return outcome
    if not (0 < max_depth <= MAX_WALK_DEPTH):
        raise InvalidInput(f"maxDepth must be between 1 and {MAX_WALK_DEPTH}")
    if not (0 < max_directories <= MAX_WALK_DIRECTORIES):
        raise InvalidInput(f"maxDirectories must be between 1 and {MAX_WALK_DIRECTORIES}")
    if not (0 < max_entries <= MAX_WALK_ENTRIES):
        raise InvalidInput(f"maxEntries must be between 1 and {MAX_WALK_ENTRIES}")
    seen: set[str] = {os.path.realpath(root)} if follow_directory_symlinks else set()
    queue: deque[tuple[str, int]] = deque([(root, 0)])  # the root's own listing is depth 0
    directories = 1
    while queue:
        directory, depth = queue.popleft()
        try:
            names = sorted(os.listdir(directory), key=os.fsencode)
        except OSError as exc:
            outcome.errors.append((directory, os_error_text(exc)))
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                meta = metadata(path)
            except OSError as exc:
                outcome.errors.append((path, os_error_text(exc)))
                continue
            if meta.is_symlink and not (follow_directory_symlinks and meta.is_directory):
                continue
            if not (meta.is_file or meta.is_directory):
                continue
            if len(outcome.entries) >= max_entries:
                outcome.truncated = True
                return outcome
            outcome.entries.append((path, "directory" if meta.is_directory else "file"))
            if not meta.is_directory or depth >= max_depth:
                continue
            if prune_hidden_directories and name.startswith("."):
                continue
            if follow_directory_symlinks:
                real = os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
            if directories >= max_directories:
                outcome.truncated = True
                continue
            directories += 1
            queue.append((path, depth + 1))
    return outcome
