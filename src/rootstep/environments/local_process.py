"""A process on this host: pipes or a pseudo-terminal, its own process group, reaped.

I/O is callback-driven on the asyncio loop (``add_reader`` on the output fds and on a pidfd for
the exit), so a running process costs no task and no thread. Output is buffered up to
``HIGH_WATER`` bytes; past that the readers pause until the consumer catches up, and the
child blocks on its full pipe instead of growing our memory.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import signal
import struct
import subprocess
import termios
from collections import deque

import anyio

from rootstep.environments.env_policy import child_env, resolve_program
from rootstep.environments.processes import (
    OutputChunk,
    ProcessFailed,
    ProcessSpec,
    ProcessStartError,
    StdinClosed,
    Stream,
)
from rootstep.sandbox.bwrap import SandboxLaunch, wrap
from rootstep.sandbox.policy import resolve_permissions

READ_SIZE = 65536
HIGH_WATER = 4 * 1024 * 1024
TERMINATE_GRACE_S = 2.0


def _take_terminal() -> None:
    """Runs in a tty child before exec: a new session with the pty as controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def exit_code_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class LocalProcess:
    def __init__(
        self, process_id: str, proc: subprocess.Popen[bytes], *, sandboxed: bool, pty_master: int | None
    ) -> None:
        self._id = process_id
        self._proc = proc
        self._sandboxed = sandboxed
        self._loop = asyncio.get_running_loop()
        self._pty = pty_master
        self._chunks: deque[OutputChunk] = deque()
        self._buffered = 0
        self._changed = anyio.Event()
        self._readers: dict[int, Stream] = {}
        self._paused: set[int] = set()
        self._exit_code: int | None = None
        self._exited = anyio.Event()
        self._closed = False
        self._stdin_fd: int | None = None
        if pty_master is not None:
            os.set_blocking(pty_master, False)
            self._add_reader(pty_master, "pty")
        else:
            for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
                if pipe is not None:
                    fd = pipe.fileno()
                    os.set_blocking(fd, False)
                    self._add_reader(fd, name)  # type: ignore[arg-type]
            if proc.stdin is not None:
                self._stdin_fd = proc.stdin.fileno()
                os.set_blocking(self._stdin_fd, False)
        self._pidfd = os.pidfd_open(proc.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)

    # --- starting -------------------------------------------------------------------------

    @classmethod
    async def start(cls, spec: ProcessSpec, process_id: str) -> LocalProcess:
        if not spec.argv:
            raise ProcessStartError(errno.EINVAL, "argv must not be empty")
        env = child_env(spec.env_policy, dict(spec.env))
        if not os.path.isdir(spec.cwd):
            raise ProcessStartError(errno.ENOENT, f"No such file or directory (os error 2): {spec.cwd}")
        program = resolve_program(spec.argv[0], spec.cwd, env)
        if program is None:
            raise ProcessStartError(errno.ENOENT, "No such file or directory (os error 2)")
        launch = SandboxLaunch([spec.arg0 or spec.argv[0], *spec.argv[1:]])
        executable: str | None = program
        if spec.sandbox is not None:
            permissions = resolve_permissions(spec.sandbox, spec.sandbox_cwd or spec.cwd, env)
            launch = wrap([program, *spec.argv[1:]], spec.cwd, permissions, tty=spec.tty)
            if launch.sandboxed:
                executable = None
        master = slave = None
        try:
            if spec.tty:
                master, slave = os.openpty()
                _set_size(master, *spec.size)
                proc = subprocess.Popen(
                    launch.argv, executable=executable, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=spec.cwd,
                    pass_fds=launch.pass_fds, preexec_fn=_take_terminal, close_fds=True,
                )
            else:
                proc = subprocess.Popen(
                    launch.argv, executable=executable, env=env, cwd=spec.cwd, pass_fds=launch.pass_fds,
                    stdin=subprocess.PIPE if spec.pipe_stdin else subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
                )
        except OSError as exc:
            if master is not None:
                os.close(master)
            raise ProcessStartError(exc.errno or errno.EIO, f"{exc.strerror or exc} (os error {exc.errno})") from None
        finally:
            launch.close()
            if slave is not None:
                os.close(slave)
        return cls(process_id, proc, sandboxed=launch.sandboxed, pty_master=master)

    # --- properties -----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def sandboxed(self) -> bool:
        return self._sandboxed

    @property
    def exit_code(self) -> int | None:
        return self._exit_code

    # --- callbacks ------------------------------------------------------------------------

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _add_reader(self, fd: int, stream: Stream) -> None:
        self._readers[fd] = stream
        self._loop.add_reader(fd, self._on_readable, fd)

    def _on_readable(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last slave closed
            data = b""
        if not data:
            self._drop_reader(fd)
        else:
            self._chunks.append(OutputChunk(self._readers[fd], data))
            self._buffered += len(data)
            if self._buffered > HIGH_WATER:
                for reader in self._readers:
                    if reader not in self._paused:
                        self._loop.remove_reader(reader)
                        self._paused.add(reader)
        self._wake()

    def _drop_reader(self, fd: int) -> None:
        if fd in self._readers:
            if fd not in self._paused:
                self._loop.remove_reader(fd)
            self._paused.discard(fd)
            del self._readers[fd]

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        returncode = self._proc.wait()  # ready: reaps at once
        self._exit_code = exit_code_of(returncode)
        self._exited.set()
        self._wake()

    # --- consumer side --------------------------------------------------------------------

    async def read(self) -> OutputChunk | None:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk.data)
                if self._paused and self._buffered <= HIGH_WATER // 2:
                    for fd in list(self._paused):
                        self._loop.add_reader(fd, self._on_readable, fd)
                    self._paused.clear()
                return chunk
            if not self._readers:
                return None
            if self._closed:
                raise ProcessFailed("process handle closed")
            await self._changed.wait()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self._exit_code is not None
        return self._exit_code

    async def write(self, data: bytes) -> None:
        fd = self._pty if self._pty is not None else self._stdin_fd
        if fd is None or self._exit_code is not None:
            raise StdinClosed(errno.EPIPE, "stdin is closed for this process")
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                await anyio.wait_writable(fd)
            except OSError as exc:
                raise StdinClosed(exc.errno or errno.EPIPE, "stdin is closed for this process") from None

    async def close_stdin(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._stdin_fd = None

    async def resize(self, rows: int, cols: int) -> None:
        if self._pty is None:
            raise StdinClosed(errno.ENOTTY, "process has no terminal")
        _set_size(self._pty, rows, cols)

    def _signal(self, sig: int) -> bool:
        if self._exit_code is not None:
            return False
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            self._proc.send_signal(sig)
        return True

    async def interrupt(self) -> None:
        self._signal(signal.SIGINT)

    async def terminate(self, grace: float = TERMINATE_GRACE_S) -> None:
        if not self._signal(signal.SIGTERM):
            return
        with anyio.move_on_after(grace):
            await self._exited.wait()
        if self._exit_code is None:
            self._signal(signal.SIGKILL)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._exited.wait()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._exit_code is None:
            self._signal(signal.SIGKILL)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._exited.wait()
        for fd in list(self._readers):
            self._drop_reader(fd)
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        if self._pty is not None:
            os.close(self._pty)
            self._pty = None
        self._wake()
