"""Reading a file someone else controls: regular files only, never more than a limit.

A repository, a plugin or a client can name a path that is a symlink to ``/dev/zero``, a FIFO
nobody writes to, or a sparse file of many gigabytes. Reading such a path with ``open().read()``
either never ends or never returns, so every read made on someone else's behalf goes through
:func:`read_regular_file`:

* the file is opened with ``O_NONBLOCK`` (opening a FIFO does not wait for a writer) and, when
  the caller wants no symlink, ``O_NOFOLLOW``;
* ``fstat`` on the open descriptor (not the path, which may change in between) must say
  *regular file*; a directory, FIFO, socket or device is refused with :class:`NotARegularFile`;
* at most ``limit + 1`` bytes are read whatever the size claims to be (``/proc`` files say 0,
  a file may grow meanwhile), and more than ``limit`` is :class:`FileTooLarge`.

It blocks (it is plain file IO): async callers use :func:`read_regular_file_async`, which runs it
in a worker thread so the event loop never waits on a disk or a hostile path.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import IO

# What the reference executor's fs/readFile allows (``file is too large to read: limit is
# 536870912 bytes``): the default for a read whose caller has no tighter bound of its own.
DEFAULT_READ_LIMIT = 512 * 1024 * 1024
_CHUNK = 1024 * 1024


class NotARegularFile(OSError):
    """The path exists but is not a regular file (``kind`` says what it is instead)."""

    def __init__(self, path: str, kind: str) -> None:
        code = errno.EISDIR if kind == "directory" else errno.EINVAL
        super().__init__(code, f"path `{path}` is not a file", path)
        self.kind = kind

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class FileTooLarge(OSError):
    """The file holds more than the caller's limit (its wording is the reference executor's)."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"file is too large to read: limit is {limit} bytes", path)
        self.limit = limit

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def file_kind(mode: int) -> str:
    """A human word for what ``st_mode`` describes (pure)."""
    for test, name in (
        (stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
        (stat.S_ISLNK, "symlink"),
    ):
        if test(mode):
            return name
    return "special file"


def open_regular_file(path: str, *, follow_symlinks: bool = True) -> IO[bytes]:
    """Open ``path`` for reading if, once open, it is a regular file.

    Raises ``FileNotFoundError`` (and other ``OSError``) as ``open`` does, :class:`NotARegularFile`
    otherwise; with ``follow_symlinks=False`` a symlink as the last component is
    :class:`NotARegularFile` too. The returned file reads in blocking mode again.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_symlinks and exc.errno == errno.ELOOP:
            raise NotARegularFile(path, "symlink") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(path, file_kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_limited(handle: IO[bytes], limit: int, path: str) -> bytes:
    """At most ``limit`` bytes of an open file; :class:`FileTooLarge` past that."""
    parts: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    if remaining <= 0:
        raise FileTooLarge(path, limit)
    return b"".join(parts)


def read_regular_file(path: str, limit: int = DEFAULT_READ_LIMIT, *, follow_symlinks: bool = True) -> bytes:
    """The whole content of the regular file at ``path`` if it holds at most ``limit`` bytes.

    A size above ``limit`` is refused before anything is read; the read itself also stops at
    ``limit + 1`` bytes, so what the size claimed does not matter.
    """
    with open_regular_file(path, follow_symlinks=follow_symlinks) as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise FileTooLarge(path, limit)
        return read_limited(handle, limit, path)


def read_regular_text(path: str, limit: int = DEFAULT_READ_LIMIT, *, follow_symlinks: bool = True) -> str:
    """:func:`read_regular_file` decoded as UTF-8 (``UnicodeDecodeError`` when it is not)."""
    return read_regular_file(path, limit, follow_symlinks=follow_symlinks).decode("utf-8")


async def read_regular_file_async(path: str, limit: int = DEFAULT_READ_LIMIT, *, follow_symlinks: bool = True) -> bytes:
    """:func:`read_regular_file` in a worker thread."""
    import anyio

    return await anyio.to_thread.run_sync(
        lambda: read_regular_file(path, limit, follow_symlinks=follow_symlinks)
    )
