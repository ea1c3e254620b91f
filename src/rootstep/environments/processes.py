"""The general process API of an environment: start a command, stream its output, write its
stdin, resize its terminal, stop its whole process tree, learn its exit code.

``LocalEnvironment.start_process`` runs it on this host (a pseudo-terminal or pipes, its own
process group, reaped); ``RemoteEnvironment.start_process`` runs it in an executor through the
exec-server ``process/*`` methods. Either way a sandbox policy in the spec is enforced where the
command runs (bubblewrap on this host, or the executor's own sandbox) or the start is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from rootstep.protocol.exec_server import ExecEnvPolicy

Stream = Literal["stdout", "stderr", "pty"]

# Everything of the environment's own variables, unfiltered (codex's unified exec default).
INHERIT_ALL = ExecEnvPolicy(inherit="all", ignore_default_excludes=True, exclude=[], set={}, include_only=[])


@dataclass(frozen=True)
class ProcessSpec:
    """What to run. ``env`` is laid over the environment's own variables as ``env_policy``
    filters them (for a remote environment: the executor's variables). ``sandbox`` is a policy
    from :mod:`rootstep.sandbox.policy` (None: unsandboxed), enforced with ``sandbox_cwd``
    (default ``cwd``) as the workspace root."""

    argv: Sequence[str]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    env_policy: ExecEnvPolicy | None = field(default_factory=lambda: INHERIT_ALL)
    tty: bool = False
    pipe_stdin: bool = False
    sandbox: Any = None
    sandbox_cwd: str | None = None
    size: tuple[int, int] = (24, 80)  # rows, cols of the pseudo-terminal
    arg0: str | None = None


@dataclass(frozen=True)
class OutputChunk:
    stream: Stream
    data: bytes


class ProcessStartError(OSError):
    """The process could not be started (nothing runs)."""


class StdinClosed(OSError):
    """The process takes no input (no tty, no stdin pipe) or has closed its stdin."""


class ProcessFailed(ConnectionError):
    """The process was lost (its executor went away) before it reported an exit."""


@runtime_checkable
class ProcessHandle(Protocol):
    """One running process. ``read()`` has a single consumer."""

    @property
    def id(self) -> str: ...

    @property
    def pid(self) -> int | None:
        """The host pid (local) or None (remote)."""
        ...

    @property
    def sandboxed(self) -> bool: ...

    @property
    def exit_code(self) -> int | None:
        """Known once the process exited (128+signal for a signal death)."""
        ...

    async def read(self) -> OutputChunk | None:
        """The next chunk of output, or None once every output stream is closed. Raises
        :class:`ProcessFailed` when the process is lost."""
        ...

    async def wait(self) -> int:
        """The exit code, waiting for the exit."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def resize(self, rows: int, cols: int) -> None: ...

    async def interrupt(self) -> None:
        """SIGINT to the process group (what Ctrl-C does)."""
        ...

    async def terminate(self) -> None:
        """SIGTERM to the whole process tree now, SIGKILL after a grace period."""
        ...

    async def aclose(self) -> None:
        """Kill the tree if still running and release everything (idempotent)."""
        ...
