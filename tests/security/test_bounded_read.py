"""``rootstep.bounded_read``, the one reader for files read on someone else's behalf: regular
files only (a FIFO is refused without waiting for a writer, a device without reading it), never
more than the limit, with or without following a final symlink."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootstep.bounded_read import FileTooLarge, NotARegularFile, read_regular_file, read_regular_file_async
from tests.security.conftest import link_to, make_fifo, make_sparse


def test_regular_files_within_the_limit_are_read(tmp_path: Path) -> None:
    (tmp_path / "ten").write_bytes(b"0123456789")
    assert read_regular_file(str(tmp_path / "ten"), 10) == b"0123456789"
    with pytest.raises(FileTooLarge) as err:
        read_regular_file(str(tmp_path / "ten"), 9)
    assert str(err.value) == "file is too large to read: limit is 9 bytes"


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = {"fifo": lambda: make_fifo(tmp_path / "fifo"), "device": lambda: Path("/dev/zero"),
            "directory": lambda: tmp_path}[kind]()
    with pytest.raises(NotARegularFile) as err:
        read_regular_file(str(path), 1 << 30)  # a FIFO nobody writes to: refused, not waited on
    assert str(err.value) == f"path `{path}` is not a file"
    assert err.value.kind == {"fifo": "fifo", "device": "character device", "directory": "directory"}[kind]


def test_a_file_claiming_more_than_the_limit_is_not_read(tmp_path: Path) -> None:
    huge = make_sparse(tmp_path / "huge", 8 << 30)
    with pytest.raises(FileTooLarge):
        read_regular_file(str(huge), 1 << 20)


def test_a_file_whose_size_lies_is_still_bounded() -> None:
    """``/proc`` files say size 0; the read itself stops at limit + 1 bytes."""
    with pytest.raises(FileTooLarge):
        read_regular_file("/proc/self/maps", 16)


def test_symlinks_are_followed_unless_the_caller_says_no(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("text")
    link = link_to(tmp_path / "link", tmp_path / "target")
    assert read_regular_file(str(link), 100) == b"text"
    with pytest.raises(NotARegularFile) as err:
        read_regular_file(str(link), 100, follow_symlinks=False)
    assert err.value.kind == "symlink"
    with pytest.raises(NotARegularFile):  # a link to a device is a device
        read_regular_file(str(link_to(tmp_path / "zero", "/dev/zero")), 100)


def test_missing_files_are_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular_file(str(tmp_path / "missing"), 100)


@pytest.mark.anyio
async def test_the_async_form_reads_in_a_worker_thread(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert await read_regular_file_async(str(tmp_path / "f"), 100) == b"x" * 100
    with pytest.raises(NotARegularFile):
        await read_regular_file_async(str(make_fifo(tmp_path / "fifo")), 100)
