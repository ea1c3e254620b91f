"""``fs/*`` handlers: host filesystem access with the reference executor's error codes.

NotFound → -32004, invalid input / permission denied → -32600, anything else → -32603, a bad
URI → -32602. Plugin discovery on the orchestrator treats -32004 as "absent", so these codes
are behaviour, not decoration.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from typing import IO, Any, TypeVar

import anyio

from rootstep.bounded_read import FileTooLarge, NotARegularFile, open_regular_file
from rootstep.environments import local_fs
from rootstep.jsonrpc.errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, NOT_FOUND, JsonRpcError
from rootstep.protocol.exec_server import (
    FsCanonicalizeResult,
    FsCloseParams,
    FsCopyParams,
    FsCreateDirectoryParams,
    FsDirectoryEntry,
    FsMetadataResult,
    FsOpenParams,
    FsOpenResult,
    FsPathParams,
    FsReadBlockParams,
    FsReadBlockResult,
    FsReadDirectoryResult,
    FsReadFileResult,
    FsRemoveParams,
    FsRenameParams,
    FsWalkEntry,
    FsWalkError,
    FsWalkParams,
    FsWalkResult,
    FsWriteBlockParams,
    FsWriteFileParams,
    b64decode,
    b64encode,
    path_to_uri,
    uri_to_path,
)

T = TypeVar("T")
MAX_HANDLES = 256
MAX_BLOCK = 1024 * 1024
MAX_HANDLE_ID = 32


def _check_sandbox(sandbox: Any) -> None:
    if sandbox is not None:
        raise JsonRpcError(INVALID_PARAMS, "sandbox intent cannot be enforced on this executor")


def map_os_error(exc: OSError) -> JsonRpcError:
    if isinstance(exc, (NotARegularFile, FileTooLarge)):  # the reference's own wording, no errno
        return JsonRpcError(INVALID_REQUEST, str(exc))
    text = local_fs.os_error_text(exc)
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return JsonRpcError(NOT_FOUND, text)
    if isinstance(exc, PermissionError) or exc.errno in (errno.EINVAL, errno.ENOTDIR, errno.EISDIR):
        return JsonRpcError(INVALID_REQUEST, text)
    return JsonRpcError(INTERNAL_ERROR, text)


async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except local_fs.InvalidInput as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    except OSError as exc:
        raise map_os_error(exc) from None


class FileSystemHandler:
    """Per-connection state: open handles for streamed reads and block writes."""

    def __init__(self) -> None:
        self._handles: dict[str, IO[bytes]] = {}

    async def get_metadata(self, p: FsPathParams) -> FsMetadataResult:
        _check_sandbox(p.sandbox)
        m = await _run(local_fs.metadata, uri_to_path(p.path))
        return FsMetadataResult(
            is_directory=m.is_directory,
            is_file=m.is_file,
            is_symlink=m.is_symlink,
            size=m.size,
            created_at_ms=m.created_at_ms,
            modified_at_ms=m.modified_at_ms,
        )

    async def read_file(self, p: FsPathParams) -> FsReadFileResult:
        _check_sandbox(p.sandbox)
        data = await _run(local_fs.read_file, uri_to_path(p.path))
        return FsReadFileResult(data_base64=b64encode(data))

    async def read_directory(self, p: FsPathParams) -> FsReadDirectoryResult:
        _check_sandbox(p.sandbox)
        entries = await _run(local_fs.read_directory, uri_to_path(p.path))
        return FsReadDirectoryResult(
            entries=[FsDirectoryEntry(file_name=n, is_directory=d, is_file=f) for n, d, f in entries]
        )

    async def canonicalize(self, p: FsPathParams) -> FsCanonicalizeResult:
        _check_sandbox(p.sandbox)
        return FsCanonicalizeResult(path=path_to_uri(await _run(local_fs.canonicalize, uri_to_path(p.path))))

    async def walk(self, p: FsWalkParams) -> FsWalkResult:
        _check_sandbox(p.sandbox)
        o = p.options
        outcome = await _run(
            local_fs.walk,
            uri_to_path(p.path),
            max_depth=o.max_depth,
            max_directories=o.max_directories,
            max_entries=o.max_entries,
            follow_directory_symlinks=o.follow_directory_symlinks,
            prune_hidden_directories=o.prune_hidden_directories,
        )
        return FsWalkResult(
            entries=[FsWalkEntry(path=path_to_uri(path), kind=kind) for path, kind in outcome.entries],
            errors=[FsWalkError(path=path_to_uri(path), message=msg) for path, msg in outcome.errors],
            truncated=outcome.truncated,
        )

    async def open(self, p: FsOpenParams) -> FsOpenResult:
        _check_sandbox(p.sandbox)
        if not p.handle_id or len(p.handle_id.encode()) > MAX_HANDLE_ID:
            raise JsonRpcError(INVALID_PARAMS, f"handleId must be 1 to {MAX_HANDLE_ID} bytes")
        if p.handle_id in self._handles:
            raise JsonRpcError(INVALID_REQUEST, f"file handle {p.handle_id} already exists")
        if len(self._handles) >= MAX_HANDLES:
            raise JsonRpcError(INVALID_REQUEST, f"too many open file handles (at most {MAX_HANDLES})")
        path = uri_to_path(p.path)
        if p.mode == "replace":
            # Create or truncate for fs/writeBlock (0.169: a directory is -32603, like a write error).
            try:
                self._handles[p.handle_id] = await anyio.to_thread.run_sync(lambda: open(path, "wb"))  # noqa: SIM115
            except IsADirectoryError as exc:
                raise JsonRpcError(INTERNAL_ERROR, local_fs.os_error_text(exc)) from None
            except OSError as exc:
                raise map_os_error(exc) from None
            return FsOpenResult(handle_id=p.handle_id)

        # Non-blocking open + fstat: a FIFO or a device is refused instead of hanging the connection.
        self._handles[p.handle_id] = await _run(open_regular_file, path)
        return FsOpenResult(handle_id=p.handle_id)

    def _handle(self, handle_id: str) -> IO[bytes]:
        f = self._handles.get(handle_id)
        if f is None:
            raise JsonRpcError(NOT_FOUND, f"unknown file handle `{handle_id}`")
        return f

    async def read_block(self, p: FsReadBlockParams) -> FsReadBlockResult:
        f = self._handle(p.handle_id)
        if not 1 <= p.len <= MAX_BLOCK:
            raise JsonRpcError(INVALID_REQUEST, f"file read block length must be between 1 and {MAX_BLOCK}")
        length = p.len

        def _read() -> tuple[bytes, bool]:
            data = os.pread(f.fileno(), length, p.offset)
            return data, len(data) < length

        data, eof = await _run(_read)
        return FsReadBlockResult(chunk=b64encode(data), eof=eof)

    async def write_block(self, p: FsWriteBlockParams) -> dict[str, Any]:
        """``fs/writeBlock``: ``pwrite`` at ``offset`` into a ``replace`` handle (1 B to 1 MiB)."""
        f = self._handle(p.handle_id)
        data = b64decode(p.chunk)
        if not 1 <= len(data) <= MAX_BLOCK:
            raise JsonRpcError(INVALID_REQUEST, f"file write block length must be between 1 and {MAX_BLOCK}")
        await _run(os.pwrite, f.fileno(), data, p.offset)
        return {}

    async def close(self, p: FsCloseParams) -> dict[str, Any]:
        """Closing an unknown handle is not an error (as the reference)."""
        f = self._handles.pop(p.handle_id, None)
        if f is not None:
            await anyio.to_thread.run_sync(f.close)
        return {}

    # --- write side ---------------------------------------------------------------------------

    async def write_file(self, p: FsWriteFileParams) -> dict[str, Any]:
        _check_sandbox(p.sandbox)
        path, data = uri_to_path(p.path), b64decode(p.data_base64)

        def _write() -> None:
            with open(path, "wb") as f:
                f.write(data)

        await _run(_write)
        return {}

    async def create_directory(self, p: FsCreateDirectoryParams) -> dict[str, Any]:
        _check_sandbox(p.sandbox)
        path = uri_to_path(p.path)
        if p.recursive is False:
            await _run(os.mkdir, path)
        else:
            await _run(os.makedirs, path, exist_ok=True)
        return {}

    async def remove(self, p: FsRemoveParams) -> dict[str, Any]:
        _check_sandbox(p.sandbox)
        path = uri_to_path(p.path)
        recursive = p.recursive is not False
        force = p.force is not False

        def _remove() -> None:
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

        await _run(_remove)
        return {}

    async def copy(self, p: FsCopyParams) -> dict[str, Any]:
        _check_sandbox(p.sandbox)
        source, destination = uri_to_path(p.source_path), uri_to_path(p.destination_path)

        def _copy() -> None:
            if os.path.isdir(source):
                if not p.recursive:
                    raise local_fs.InvalidInput("fs/copy requires recursive: true when copying a directory")
                shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(source, destination, follow_symlinks=False)

        await _run(_copy)
        return {}

    async def rename(self, p: FsRenameParams) -> dict[str, Any]:
        """rootstep's ``fs/rename``: ``rename(2)`` semantics (atomic, replaces a file destination)."""
        _check_sandbox(p.sandbox)
        await _run(os.replace, uri_to_path(p.source_path), uri_to_path(p.destination_path))
        return {}

    def close_all(self) -> None:
        for f in self._handles.values():
            f.close()
        self._handles.clear()
