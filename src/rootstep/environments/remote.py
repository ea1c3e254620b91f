"""``RemoteEnvironment``: the ``Environment`` interface served through an exec-server link.

The environment does not own its link; it asks ``acquire()`` for a live client on every call.
A standalone link hands back a fixed client; the ``EnvironmentManager`` hands back the client
of a lazily started executor (starting it on first use). Either way a dead link raises
:class:`EnvironmentUnavailable` at once.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from rootstep.environments.base import FileMetadata
from rootstep.environments.exec_client import ExecServerClient
from rootstep.environments.links import open_stdio_link, open_websocket_link
from rootstep.environments.processes import ProcessSpec
from rootstep.environments.remote_process import RemoteProcess
from rootstep.jsonrpc.errors import INVALID_REQUEST, NOT_FOUND, ConnectionClosed, JsonRpcError
from rootstep.protocol import exec_server as p

if TYPE_CHECKING:
    import httpx2


Acquire = Callable[[], Awaitable[ExecServerClient]]
READ_BLOCK = 1024 * 1024
_handle_ids = itertools.count(1)
_process_ids = itertools.count(1)


class EnvironmentUnavailable(ConnectionError):
    """The environment's executor is not running (failed to start, or its link died)."""


def to_uri(path: str) -> str:
    return path if path.startswith("file:") else p.path_to_uri(path)


def _os_error(exc: JsonRpcError, path: str) -> OSError:
    if isinstance(exc, ConnectionClosed):
        return EnvironmentUnavailable(exc.message)
    if exc.code == NOT_FOUND:
        return FileNotFoundError(errno.ENOENT, exc.message, path)
    if exc.code == INVALID_REQUEST:
        return OSError(errno.EINVAL, exc.message, path)
    return OSError(errno.EIO, exc.message, path)


class RemoteEnvironment:
    """An executor reached over the exec-server protocol (stdio child or websocket)."""

    def __init__(self, env_id: str, acquire: Acquire) -> None:
        self._id = env_id
        self._acquire = acquire

    @property
    def id(self) -> str:
        return self._id

    async def client(self) -> ExecServerClient:
        try:
            return await self._acquire()
        except EnvironmentUnavailable:
            raise
        except Exception as exc:
            raise EnvironmentUnavailable(str(exc)) from None

    async def _call(self, method: str, params: Any, model: type[Any], path: str) -> Any:
        client = await self.client()
        try:
            return await client.call(method, params, model)
        except JsonRpcError as exc:
            raise _os_error(exc, path) from None

    async def _request(self, method: str, params: Any, path: str) -> Any:
        client = await self.client()
        try:
            return await client.request(method, params)
        except JsonRpcError as exc:
            raise _os_error(exc, path) from None

    # --- standalone links -------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def connect_stdio(
        cls,
        env_id: str,
        program: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        initialize_timeout: float = 10.0,
    ) -> AsyncIterator[RemoteEnvironment]:
        async with open_stdio_link(
            program, args, env=env, cwd=cwd, initialize_timeout=initialize_timeout, name=env_id
        ) as client:
            yield cls(env_id, _fixed(client))

    @classmethod
    @asynccontextmanager
    async def connect_websocket(
        cls, env_id: str, url: str, *, connect_timeout: float = 10.0, initialize_timeout: float = 10.0
    ) -> AsyncIterator[RemoteEnvironment]:
        async with open_websocket_link(
            url, connect_timeout=connect_timeout, initialize_timeout=initialize_timeout, name=env_id
        ) as client:
            yield cls(env_id, _fixed(client))

    # --- environment facts ------------------------------------------------------------------

    async def environment_info(self) -> dict[str, Any]:
        client = await self.client()
        info: dict[str, Any] = await client.request(p.ENVIRONMENT_INFO, None, timeout=30)
        return info

    async def probe(self) -> bool:
        """``environment/status`` over the live link: a liveness check, never a start."""
        client = await self.client()
        result = await client.call(p.ENVIRONMENT_STATUS, None, p.EnvironmentStatusResult, timeout=10)
        return result.status == "ready"

    # --- filesystem -------------------------------------------------------------------------

    async def read_file(self, path: str) -> bytes:
        result = await self._call(p.FS_READ_FILE, p.FsPathParams(path=to_uri(path)), p.FsReadFileResult, path)
        return p.b64decode(result.data_base64)

    async def read_file_streamed(self, path: str, *, block: int = READ_BLOCK) -> AsyncIterator[bytes]:
        """``fs/open`` + ``fs/readBlock`` … + ``fs/close``: big files without one giant line."""
        client = await self.client()
        handle = f"rs-{os.getpid()}-{next(_handle_ids)}"
        try:
            await client.call(p.FS_OPEN, p.FsOpenParams(handle_id=handle, path=to_uri(path)), p.FsOpenResult)
        except JsonRpcError as exc:
            raise _os_error(exc, path) from None
        try:
            offset = 0
            while True:
                try:
                    block_result = await client.call(
                        p.FS_READ_BLOCK,
                        p.FsReadBlockParams(handle_id=handle, offset=offset, len=block),
                        p.FsReadBlockResult,
                    )
                except JsonRpcError as exc:
                    raise _os_error(exc, path) from None
                data = p.b64decode(block_result.chunk)
                if data:
                    yield data
                offset += len(data)
                if block_result.eof or not data:
                    return
        finally:
            if not client.closed:
                try:
                    await client.request(p.FS_CLOSE, p.FsCloseParams(handle_id=handle))
                except JsonRpcError:
                    pass

    async def get_metadata(self, path: str) -> FileMetadata | None:
        try:
            m = await self._call(p.FS_GET_METADATA, p.FsPathParams(path=to_uri(path)), p.FsMetadataResult, path)
        except FileNotFoundError:
            return None
        return FileMetadata(m.is_directory, m.is_file, m.is_symlink, m.size)

    async def read_directory(self, path: str) -> list[tuple[str, FileMetadata]]:
        result = await self._call(p.FS_READ_DIRECTORY, p.FsPathParams(path=to_uri(path)), p.FsReadDirectoryResult, path)
        return [(e.file_name, FileMetadata(e.is_directory, e.is_file)) for e in result.entries]

    async def canonicalize(self, path: str) -> str:
        result = await self._call(p.FS_CANONICALIZE, p.FsPathParams(path=to_uri(path)), p.FsCanonicalizeResult, path)
        return p.uri_to_path(result.path)

    async def walk(
        self, path: str, *, max_depth: int = 6, max_directories: int = 2000, max_entries: int = 20000,
        follow_directory_symlinks: bool = True, prune_hidden_directories: bool = False,
    ) -> p.FsWalkResult:
        options = p.FsWalkOptions(
            max_depth=max_depth, max_directories=max_directories, max_entries=max_entries,
            follow_directory_symlinks=follow_directory_symlinks, prune_hidden_directories=prune_hidden_directories,
        )
        walked: p.FsWalkResult = await self._call(
            p.FS_WALK, p.FsWalkParams(path=to_uri(path), options=options), p.FsWalkResult, path
        )
        return walked

    # --- filesystem writes ---------------------------------------------------------------------

    async def write_file(self, path: str, data: bytes) -> None:
        await self._request(
            p.FS_WRITE_FILE, p.FsWriteFileParams(path=to_uri(path), data_base64=p.b64encode(data)), path
        )

    async def create_directory(self, path: str, *, recursive: bool = True) -> None:
        await self._request(
            p.FS_CREATE_DIRECTORY, p.FsCreateDirectoryParams(path=to_uri(path), recursive=recursive), path
        )

    async def remove(self, path: str, *, recursive: bool = False, force: bool = False) -> None:
        await self._request(p.FS_REMOVE, p.FsRemoveParams(path=to_uri(path), recursive=recursive, force=force), path)

    async def copy_file(self, source: str, destination: str) -> None:
        params = p.FsCopyParams(source_path=to_uri(source), destination_path=to_uri(destination), recursive=False)
        await self._request(p.FS_COPY, params, source)

    async def rename(self, source: str, destination: str) -> None:
        """rootstep's ``fs/rename``; an executor without it (0.169's) → :class:`RenameUnsupported`."""
        from rootstep.environments.base import RenameUnsupported
        from rootstep.jsonrpc.errors import METHOD_NOT_FOUND

        client = await self.client()
        params = p.FsRenameParams(source_path=to_uri(source), destination_path=to_uri(destination))
        try:
            await client.request(p.FS_RENAME, params)
        except JsonRpcError as exc:
            if exc.code == METHOD_NOT_FOUND:
                raise RenameUnsupported(exc.message) from None
            raise _os_error(exc, source) from None

    # --- processes --------------------------------------------------------------------------

    async def start_process(self, spec: ProcessSpec, process_id: str | None = None) -> RemoteProcess:
        """Run a command in the executor (see :mod:`rootstep.environments.processes`)."""
        client = await self.client()
        return await RemoteProcess.start(client, spec, process_id or f"rs-{os.getpid()}-{next(_process_ids)}")

    # --- http -------------------------------------------------------------------------------

    def http_client(
        self, *, headers: dict[str, str] | None = None, timeout: float | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        import httpx2

        from rootstep.environments.http_egress import EnvironmentHttpTransport

        return httpx2.AsyncClient(
            transport=EnvironmentHttpTransport(self.client),
            headers=headers,
            timeout=httpx2.Timeout(timeout),
            auth=auth,
            follow_redirects=True,
        )

    # --- discovery --------------------------------------------------------------------------

    async def discover_capability_roots(self, roots: list[tuple[str, str]]) -> list[dict[str, Any]]:
        params = p.DiscoverV1Params(roots=[p.CapabilityRootRequest(id=i, path=to_uri(path)) for i, path in roots])
        client = await self.client()
        try:
            raw = await client.request(p.CAPABILITY_ROOTS_DISCOVER_V1, params)
        except ConnectionClosed as exc:
            raise EnvironmentUnavailable(exc.message) from None
        found = raw.get("roots") if isinstance(raw, dict) else None
        out: list[dict[str, Any]] = []
        for i, req in enumerate(params.roots):
            item = found[i] if isinstance(found, list) and len(found) == len(params.roots) else None
            if not isinstance(item, dict) or item.get("id") != req.id or item.get("path") != req.path:
                item = {"id": req.id, "path": req.path, "plugin": None, "skills": [], "namespaceManifests": [],
                        "warnings": [], "error": "capability discovery response did not match the request"}
            out.append(item)
        return out


def _fixed(client: ExecServerClient) -> Acquire:
    async def acquire() -> ExecServerClient:
        if client.closed:
            raise EnvironmentUnavailable(client.failure or "exec-server transport disconnected")
        return client

    return acquire
