"""A test-only ``Environment`` backed by the real host filesystem, with only the fs methods.

It records every path it is asked about, so tests can assert *which* files discovery reads
(e.g. an inline ``mcpServers`` object causes no read), and it can be made to fail, to check
that resolution errors are retried rather than cached.
"""

from __future__ import annotations

import os
from typing import Any

import anyio

from rootstep.environments.base import FileMetadata


class FsEnvironment:
    def __init__(self, env_id: str = "local") -> None:
        self._id = env_id
        self.reads: list[str] = []
        self.probes: list[str] = []
        self.fail_with: Exception | None = None
        self.delay = 0.0

    @property
    def id(self) -> str:
        return self._id

    async def _maybe_fail(self) -> None:
        if self.delay:
            await anyio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with

    async def read_file(self, path: str) -> bytes:
        self.reads.append(path)
        await self._maybe_fail()
        return await anyio.Path(path).read_bytes()

    async def get_metadata(self, path: str) -> FileMetadata | None:
        self.probes.append(path)
        await self._maybe_fail()
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        import stat

        return FileMetadata(stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode), os.path.islink(path), st.st_size)

    async def read_directory(self, path: str) -> list[tuple[str, FileMetadata]]:
        await self._maybe_fail()
        out = []
        for name in os.listdir(path):
            meta = await self.get_metadata(os.path.join(path, name))
            assert meta is not None
            out.append((name, meta))
        return out

    def http_client(self, **kwargs: Any) -> Any:
        raise NotImplementedError("discovery tests never make HTTP requests")

    async def discover_capability_roots(self, roots: list[tuple[str, str]]) -> list[dict[str, Any]]:
        raise NotImplementedError("use a hand-built bundle or LocalEnvironment")
