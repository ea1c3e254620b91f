"""The ``Environment`` interface every consumer codes against.

``LocalEnvironment`` serves it in-process; ``RemoteEnvironment`` serves it through an
exec-server connection (a stdio child process or a websocket). Consumers (plugin discovery, MCP
transports, OAuth) never know which one they hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import httpx2

    from rootstep.environments.processes import ProcessHandle, ProcessSpec


class RenameUnsupported(NotImplementedError):
    """The environment cannot rename atomically (an executor without ``fs/rename``)."""


@dataclass(frozen=True)
class FileMetadata:
    is_directory: bool
    is_file: bool
    is_symlink: bool = False
    size: int = 0


@dataclass(frozen=True)
class StdioLaunch:
    """How to start a stdio MCP server inside an environment (spec exec-server §4.2).

    ``env`` is the literal overlay (config ``env`` + values of host-sourced ``env_vars``);
    ``remote_env_vars`` are names whose values come from the environment's own process env.
    """

    command: str
    args: tuple[str, ...] = ()
    cwd: str | None = None  # a native path on the environment's side
    env: tuple[tuple[str, str], ...] = ()
    remote_env_vars: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@runtime_checkable
class Environment(Protocol):
    """An executor: a filesystem, processes and an HTTP egress, plus capability discovery."""

    @property
    def id(self) -> str: ...

    # --- filesystem (paths are native absolute paths on the environment's side) ---
    async def read_file(self, path: str) -> bytes: ...

    async def get_metadata(self, path: str) -> FileMetadata | None:
        """None when the path does not exist."""
        ...

    async def read_directory(self, path: str) -> list[tuple[str, FileMetadata]]: ...

    # --- filesystem writes (file tools: apply_patch); failures are OSError ---
    async def write_file(self, path: str, data: bytes) -> None:
        """Create or truncate ``path`` (its parent must exist: FileNotFoundError otherwise)."""
        ...

    async def create_directory(self, path: str, *, recursive: bool = True) -> None: ...

    async def remove(self, path: str, *, recursive: bool = False, force: bool = False) -> None:
        """``force``: a missing path is not an error."""
        ...

    async def copy_file(self, source: str, destination: str) -> None:
        """Copy a regular file with its permission bits."""
        ...

    async def rename(self, source: str, destination: str) -> None:
        """Atomic same-filesystem rename replacing a file destination.

        Raises :class:`RenameUnsupported` where the executor has no such primitive (the 0.169
        exec-server has none); callers then write in place.
        """
        ...

    # --- processes: any command, with a sandbox policy (see rootstep.environments.processes) ---
    async def start_process(self, spec: ProcessSpec, process_id: str | None = None) -> ProcessHandle: ...

    # --- HTTP: a client whose requests leave from the environment (its proxies apply) ---
    def http_client(
        self, *, headers: dict[str, str] | None = None, timeout: float | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient: ...

    # --- capability discovery (exec-server capabilityRoots/discoverV1); raw wire result dicts ---
    async def discover_capability_roots(self, roots: list[tuple[str, str]]) -> list[dict[str, Any]]: ...
