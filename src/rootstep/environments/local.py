"""``LocalEnvironment``: the built-in ``local`` environment, served in-process.

Files are read from the host, stdio MCP servers are launched on the host with the MCP SDK's
``stdio_client`` (environment cleared to the default pass-through variables plus the named
``env_vars`` and the literal ``env``; own process group; stdin close → SIGTERM → SIGKILL),
and HTTP goes out directly. It is always ready.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from rootstep.bounded_read import open_regular_file
from rootstep.environments import local_fs
from rootstep.environments.base import FileMetadata
from rootstep.environments.discovery import discover_root
from rootstep.environments.host_info import host_environment_info
from rootstep.environments.processes import ProcessSpec
from rootstep.protocol import exec_server as p

if TYPE_CHECKING:
    import httpx2

    from rootstep.environments.local_process import LocalProcess


LOCAL_ENVIRONMENT_ID = "local"
_process_ids = itertools.count(1)


def _native(path: str) -> str:
    return p.uri_to_path(path) if path.startswith("file:") else path


class LocalEnvironment:
    def __init__(self, env_id: str = LOCAL_ENVIRONMENT_ID, *, default_cwd: str | None = None) -> None:
        self._id = env_id
        self._default_cwd = default_cwd

    @property
    def default_cwd(self) -> str | None:
        """Where a process starts when its launch names no folder (None: this process's)."""
        return self._default_cwd

    @property
    def id(self) -> str:
        return self._id

    async def environment_info(self) -> dict[str, Any]:
        """Same shape as an executor's ``environment/info``."""
        return p.wire(host_environment_info(self._default_cwd))

    async def probe(self) -> bool:
        return True

    async def read_file(self, path: str) -> bytes:
        return await anyio.to_thread.run_sync(local_fs.read_file, _native(path))

    async def read_file_streamed(self, path: str, *, block: int = 1024 * 1024) -> AsyncIterator[bytes]:
        # Opened non-blocking and checked to be a regular file, as every read on others' behalf.
        f = anyio.wrap_file(await anyio.to_thread.run_sync(open_regular_file, _native(path)))
        async with f:
            while data := await f.read(block):
                yield data

    async def get_metadata(self, path: str) -> FileMetadata | None:
        try:
            meta = await anyio.to_thread.run_sync(local_fs.metadata, _native(path))
        except FileNotFoundError:
            return None
        return meta.to_file_metadata()

    async def read_directory(self, path: str) -> list[tuple[str, FileMetadata]]:
        entries = await anyio.to_thread.run_sync(local_fs.read_directory, _native(path))
        return [(name, FileMetadata(is_dir, is_file)) for name, is_dir, is_file in entries]

    async def canonicalize(self, path: str) -> str:
        return await anyio.to_thread.run_sync(local_fs.canonicalize, _native(path))

    async def write_file(self, path: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(local_fs.write_file, _native(path), data)

    async def create_directory(self, path: str, *, recursive: bool = True) -> None:
        await anyio.to_thread.run_sync(local_fs.create_directory, _native(path), recursive)

    async def remove(self, path: str, *, recursive: bool = False, force: bool = False) -> None:
        await anyio.to_thread.run_sync(local_fs.remove, _native(path), recursive, force)

    async def copy_file(self, source: str, destination: str) -> None:
        await anyio.to_thread.run_sync(local_fs.copy_file, _native(source), _native(destination))

    async def rename(self, source: str, destination: str) -> None:
        await anyio.to_thread.run_sync(local_fs.rename, _native(source), _native(destination))

    async def walk(
        self, path: str, *, max_depth: int = 6, max_directories: int = 2000, max_entries: int = 20000,
        follow_directory_symlinks: bool = True, prune_hidden_directories: bool = False,
    ) -> p.FsWalkResult:
        outcome = await anyio.to_thread.run_sync(
            functools.partial(
                local_fs.walk, _native(path), max_depth=max_depth, max_directories=max_directories,
                max_entries=max_entries, follow_directory_symlinks=follow_directory_symlinks,
                prune_hidden_directories=prune_hidden_directories,
            )
        )
        return p.FsWalkResult(
            entries=[p.FsWalkEntry(path=p.path_to_uri(x), kind=k) for x, k in outcome.entries],
            errors=[p.FsWalkError(path=p.path_to_uri(x), message=m) for x, m in outcome.errors],
            truncated=outcome.truncated,
        )

    async def start_process(self, spec: ProcessSpec, process_id: str | None = None) -> LocalProcess:
        from rootstep.environments.local_process import LocalProcess  # with the sandbox: at first use

        """Run a command on this host (see :mod:`rootstep.environments.processes`)."""
        return await LocalProcess.start(spec, process_id or f"local-{next(_process_ids)}")

    def http_client(
        self, *, headers: dict[str, str] | None = None, timeout: float | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        import httpx2

        return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout), auth=auth, follow_redirects=True)

    async def discover_capability_roots(self, roots: list[tuple[str, str]]) -> list[dict[str, Any]]:
        out = []
        for root_id, path in roots:
            uri = path if path.startswith("file:") else p.path_to_uri(path)
            found = await anyio.to_thread.run_sync(discover_root, root_id, uri, _native(path))
            out.append(p.wire(found))
        return out
