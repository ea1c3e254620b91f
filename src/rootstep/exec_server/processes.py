"""Processes of one exec-server session: spawn, per-process seq, replay buffer, writes, kills.

Each process has a single sequence counter shared by its ``process/output``,
``process/exited`` and ``process/closed`` events. Events are recorded and sent under one
per-process lock, so notifications leave in seq order even though stdout, stderr and the exit
watcher are separate tasks.

Every child runs in its own session/process group. ``process/terminate`` (and the end of the
connection) sends SIGTERM to the group and SIGKILL after a grace period, so a well-behaved
server can clean up and one that ignores SIGTERM still dies. If the executor itself is killed,
the reaper (:mod:`.reaper`) kills the groups it left behind.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pty
import signal
import struct
import termios
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup

from rootstep.environments.env_policy import child_env, resolve_program
from rootstep.environments.local_fs import os_error_text
from rootstep.exec_server import reaper
from rootstep.jsonrpc.errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.exec_server import (
    PROCESS_CLOSED,
    PROCESS_EXITED,
    PROCESS_OUTPUT,
    ProcessClosedNotification,
    ProcessExitedNotification,
    ProcessOutputChunk,
    ProcessOutputNotification,
    ProcessReadParams,
    ProcessReadResult,
    ProcessStartParams,
    ProcessStartResult,
    ProcessTerminateResult,
    ProcessWriteParams,
    ProcessWriteResult,
    b64decode,
    b64encode,
    uri_to_path,
)
from rootstep.sandbox.bwrap import SandboxLaunch, SandboxUnavailable, sandbox_type, wrap
from rootstep.sandbox.denial import is_likely_sandbox_denied
from rootstep.sandbox.exec_context import UnenforceableSandbox, permissions_from_context

log = logging.getLogger(__name__)

READ_SIZE = 8192
RETAINED_BYTES = 1024 * 1024
RETAINED_CHUNKS = 50_000
WRITE_IDS = 4096
CLOSED_RETENTION_S = 30.0
EXIT_OUTPUT_GRACE_S = 0.05
TERMINATE_GRACE_S = 2.0

Notify = Callable[[str, Any], Awaitable[None]]

PTY_ROWS, PTY_COLS = 24, 80


def _open_pty() -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", PTY_ROWS, PTY_COLS, 0, 0))
    return master, slave


def _take_terminal() -> None:
    """Runs in a tty child before exec: new session, the pty as controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def exit_code_of(returncode: int | None) -> int:
    if returncode is None:
        return -1
    return 128 - returncode if returncode < 0 else returncode


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also reports the child's exit (not its pipes' EOF)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass
class _Chunk:
    seq: int
    stream: str
    data: bytes


class ManagedProcess:
    def __init__(self, process_id: str, notify: Notify) -> None:
        self.id = process_id
        self._notify = notify
        self._seq = 0
        self._lock = anyio.Lock(fast_acquire=True)  # no loop turn per output chunk when uncontended
        self.chunks: deque[_Chunk] = deque()
        self._retained = 0
        self.exited = False
        self.exit_code: int | None = None
        self.closed = False
        self.starting = True
        self.pipe_stdin = False
        self._changed = anyio.Event()
        self._write_ids: deque[str] = deque()
        self._write_id_set: set[str] = set()
        self.proc: asyncio.subprocess.Process | None = None
        self.protocol: _Protocol | None = None
        self.pty_master: int | None = None
        self.sandboxed = False

    @property
    def next_seq(self) -> int:
        return self._seq + 1

    @property
    def running(self) -> bool:
        return self.proc is not None and not self.exited

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _emit(self, method: str, make: Callable[[int], Any], chunk: tuple[str, bytes] | None = None) -> None:
        async with self._lock:
            self._seq += 1
            seq = self._seq
            if chunk is not None:
                self.chunks.append(_Chunk(seq, chunk[0], chunk[1]))
                self._retained += len(chunk[1])
                while self.chunks and (self._retained > RETAINED_BYTES or len(self.chunks) > RETAINED_CHUNKS):
                    self._retained -= len(self.chunks.popleft().data)
            self._wake()
            try:
                await self._notify(method, make(seq))
            except Exception:  # the connection is gone; events stay recorded
                log.debug("could not deliver %s for %s", method, self.id)

    def _output_notification(
        self, stream: Literal["stdout", "stderr", "pty"], data: bytes
    ) -> Callable[[int], ProcessOutputNotification]:
        """Builds the ``process/output`` notification once :meth:`_emit` has numbered it."""

        def make(seq: int) -> ProcessOutputNotification:
            return ProcessOutputNotification(process_id=self.id, seq=seq, stream=stream, chunk=b64encode(data))

        return make

    async def pump(self, stream: asyncio.StreamReader, name: Literal["stdout", "stderr"]) -> None:
        while True:
            data = await stream.read(READ_SIZE)
            if not data:
                return
            await self._emit(PROCESS_OUTPUT, self._output_notification(name, data), (name, data))

    async def pump_pty(self, fd: int) -> None:
        """All output of a tty process, from the pty master; EIO means the terminal closed."""
        os.set_blocking(fd, False)
        while True:
            await anyio.wait_readable(fd)
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return
            await self._emit(PROCESS_OUTPUT, self._output_notification("pty", data), ("pty", data))

    async def write_pty(self, data: bytes) -> None:
        assert self.pty_master is not None
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.pty_master, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self.pty_master)

    async def supervise(self, on_closed: Callable[[], None]) -> None:
        """Owner task of one child: pumps its pipes, reports exit, then closure."""
        assert self.proc is not None and self.protocol is not None
        proc = self.proc
        pumps_done = anyio.Event()

        async def pumps() -> None:
            async with anyio.create_task_group() as inner:
                if self.pty_master is not None:
                    inner.start_soon(self.pump_pty, self.pty_master)
                if proc.stdout is not None:
                    inner.start_soon(self.pump, proc.stdout, "stdout")
                if proc.stderr is not None:
                    inner.start_soon(self.pump, proc.stderr, "stderr")
            pumps_done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pumps)
            await self.protocol.exited.wait()
            # Output written just before exit is usually already in the pipe: report it first.
            with anyio.move_on_after(EXIT_OUTPUT_GRACE_S):
                await pumps_done.wait()
            self.exited = True
            self.exit_code = exit_code_of(proc.returncode)
            await self._emit(
                PROCESS_EXITED,
                lambda seq: ProcessExitedNotification(
                    process_id=self.id, seq=seq, exit_code=self.exit_code, sandbox_denied=self.sandbox_denied()
                ),
            )
        self.closed = True
        if self.pty_master is not None:
            os.close(self.pty_master)
        reaper.untrack(proc.pid)
        await self._emit(PROCESS_CLOSED, lambda seq: ProcessClosedNotification(process_id=self.id, seq=seq))
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
        on_closed()

    def sandbox_denied(self) -> bool:
        """0.169's heuristic over the retained output of a sandboxed process that failed."""
        if not self.sandboxed or not self.exit_code:
            return False
        text = b"".join(c.data for c in self.chunks).decode("utf-8", "replace")
        return is_likely_sandbox_denied(sandboxed=True, exit_code=self.exit_code, output=text)

    def kill(self, sig: int = signal.SIGKILL) -> bool:
        if self.proc is None or self.exited:
            return False
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            self.proc.send_signal(sig)
        return True

    def remember_write(self, write_id: str) -> bool:
        """False when this id was already accepted (the write must not happen again)."""
        if write_id in self._write_id_set:
            return False
        self._write_ids.append(write_id)
        self._write_id_set.add(write_id)
        if len(self._write_ids) > WRITE_IDS:
            self._write_id_set.discard(self._write_ids.popleft())
        return True

    def forget_write(self, write_id: str) -> None:
        self._write_id_set.discard(write_id)

    def snapshot(self, after_seq: int, max_bytes: int | None) -> ProcessReadResult:
        chunks: list[ProcessOutputChunk] = []
        total = 0
        for c in self.chunks:
            if c.seq <= after_seq:
                continue
            if max_bytes is not None and chunks and total + len(c.data) > max_bytes:
                break
            chunks.append(ProcessOutputChunk(seq=c.seq, stream=c.stream, chunk=b64encode(c.data)))
            total += len(c.data)
        next_seq = self.next_seq if max_bytes is None or not chunks else chunks[-1].seq + 1
        return ProcessReadResult(
            chunks=chunks, next_seq=next_seq, exited=self.exited, exit_code=self.exit_code, closed=self.closed
        )

    async def wait_change(self) -> None:
        await self._changed.wait()


def _sandbox_launch(params: ProcessStartParams, program: str, cwd: str, env: dict[str, str]) -> SandboxLaunch:
    """The launch of a ``process/start``: as asked when ``sandbox`` is null or grants full access,
    else wrapped in the sandbox; one that cannot be enforced here is refused (never run bare)."""
    if params.sandbox is None:
        return SandboxLaunch([params.arg0 or params.argv[0], *params.argv[1:]])
    try:
        permissions = permissions_from_context(params.sandbox, cwd=cwd, env=env)
        return wrap([program, *params.argv[1:]], cwd, permissions, tty=params.tty)
    except (UnenforceableSandbox, SandboxUnavailable) as exc:
        raise JsonRpcError(INVALID_PARAMS, f"sandbox intent cannot be enforced on this executor: {exc}") from None


class ProcessTable:
    """All processes of one session. Handlers run one at a time (the server is sequential)."""

    def __init__(self, tg: TaskGroup, notify: Notify) -> None:
        self._tg = tg
        self._notify = notify
        self._procs: dict[str, ManagedProcess] = {}

    def _get(self, process_id: str) -> ManagedProcess:
        proc = self._procs.get(process_id)
        if proc is None:
            raise JsonRpcError(INVALID_REQUEST, f"unknown process id {process_id}")
        return proc

    async def start(self, params: ProcessStartParams) -> ProcessStartResult:
        if not params.argv:
            raise JsonRpcError(INVALID_PARAMS, "argv must not be empty")
        if params.enforce_managed_network or params.managed_network is not None:
            raise JsonRpcError(INVALID_PARAMS, "managed network cannot be enforced on this executor")
        if params.process_id in self._procs:
            raise JsonRpcError(INVALID_REQUEST, f"process {params.process_id} already exists")
        cwd = uri_to_path(params.cwd)
        env = child_env(params.env_policy, params.env)
        program = resolve_program(params.argv[0], cwd, env)
        if program is None:
            raise JsonRpcError(INTERNAL_ERROR, "No such file or directory (os error 2)")
        launch = _sandbox_launch(params, program, cwd, env)
        managed = ManagedProcess(params.process_id, self._notify)
        managed.sandboxed = launch.sandboxed
        managed.pipe_stdin = params.pipe_stdin
        self._procs[params.process_id] = managed
        loop = asyncio.get_running_loop()
        stdio: dict[str, Any]
        slave = None
        if params.tty:
            managed.pty_master, slave = _open_pty()
            stdio = dict(stdin=slave, stdout=slave, stderr=slave, preexec_fn=_take_terminal)
        else:
            stdin = asyncio.subprocess.PIPE if params.pipe_stdin else asyncio.subprocess.DEVNULL
            stdio = dict(
                stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
            )
        try:
            if launch.sandboxed:
                transport, protocol = await loop.subprocess_exec(
                    lambda: _Protocol(limit=2**16, loop=loop), *launch.argv, env=env, cwd=cwd,
                    pass_fds=launch.pass_fds, **stdio,
                )
            else:
                transport, protocol = await loop.subprocess_exec(
                    lambda: _Protocol(limit=2**16, loop=loop),
                    params.arg0 or params.argv[0],
                    *params.argv[1:],
                    executable=program,
                    env=env,
                    cwd=cwd,
                    **stdio,
                )
        except OSError as exc:
            del self._procs[params.process_id]
            if managed.pty_master is not None:
                os.close(managed.pty_master)
            raise JsonRpcError(INTERNAL_ERROR, os_error_text(exc)) from None
        finally:
            launch.close()
            if slave is not None:
                os.close(slave)
        managed.proc = asyncio.subprocess.Process(transport, protocol, loop)
        reaper.track(managed.proc.pid)
        managed.protocol = protocol
        managed.starting = False
        def expire_later() -> None:
            self._tg.start_soon(self._expire, managed)

        self._tg.start_soon(managed.supervise, expire_later)
        return ProcessStartResult(
            process_id=params.process_id, sandbox_type=sandbox_type() if launch.sandboxed else "none"
        )

    async def _expire(self, managed: ManagedProcess) -> None:
        await anyio.sleep(CLOSED_RETENTION_S)
        if self._procs.get(managed.id) is managed:
            del self._procs[managed.id]

    async def write(self, params: ProcessWriteParams) -> ProcessWriteResult:
        if not params.write_id:
            raise JsonRpcError(INVALID_PARAMS, "writeId must not be empty")
        data = b64decode(params.chunk)
        managed = self._procs.get(params.process_id)
        if managed is None:
            return ProcessWriteResult(status="unknownProcess")
        if managed.starting:
            return ProcessWriteResult(status="starting")
        if managed.pty_master is not None:
            if managed.remember_write(params.write_id) and not managed.exited:
                try:
                    await managed.write_pty(data)
                except OSError:
                    raise JsonRpcError(INTERNAL_ERROR, "failed to write to process stdin") from None
            return ProcessWriteResult(status="accepted")
        if not managed.pipe_stdin:
            return ProcessWriteResult(status="stdinClosed")
        if managed.proc is None or managed.proc.stdin is None:
            raise JsonRpcError(INTERNAL_ERROR, "failed to write to process stdin")
        if not managed.remember_write(params.write_id):
            return ProcessWriteResult(status="accepted")
        if managed.exited or managed.proc.stdin.is_closing():
            # Like 0.169: a write racing the child's exit is accepted and goes nowhere.
            return ProcessWriteResult(status="accepted")
        try:
            managed.proc.stdin.write(data)
            await managed.proc.stdin.drain()
        except (OSError, RuntimeError):
            if not managed.exited:
                managed.forget_write(params.write_id)
                raise JsonRpcError(INTERNAL_ERROR, "failed to write to process stdin") from None
        return ProcessWriteResult(status="accepted")

    async def read(self, params: ProcessReadParams) -> ProcessReadResult:
        managed = self._get(params.process_id)
        if managed.starting:
            raise JsonRpcError(INVALID_REQUEST, f"process id {params.process_id} is starting")
        after = params.after_seq or 0
        deadline = anyio.current_time() + (params.wait_ms or 0) / 1000
        while True:
            result = managed.snapshot(after, params.max_bytes)
            if result.chunks or managed.closed or (managed.exited and after < managed.next_seq - 1):
                return result
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return result
            with anyio.move_on_after(remaining):
                await managed.wait_change()

    async def interrupt(self, process_id: str) -> dict[str, Any]:
        managed = self._procs.get(process_id)
        if managed is not None:
            managed.kill(signal.SIGINT)
        return {}

    async def terminate(self, process_id: str) -> ProcessTerminateResult:
        """SIGTERM to the process group now, SIGKILL after the grace period if it is still there."""
        managed = self._procs.get(process_id)
        if managed is None or not managed.kill(signal.SIGTERM):
            return ProcessTerminateResult(running=False)
        self._tg.start_soon(self._kill_after_grace, managed)
        return ProcessTerminateResult(running=True)

    async def _kill_after_grace(self, managed: ManagedProcess) -> None:
        with anyio.move_on_after(TERMINATE_GRACE_S):
            while not managed.exited:
                await managed.wait_change()
        if not managed.exited:
            log.info("process %s ignored SIGTERM for %.1fs; killing it", managed.id, TERMINATE_GRACE_S)
            managed.kill(signal.SIGKILL)

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        for managed in self._procs.values():
            managed.kill(sig)

    @property
    def live(self) -> list[ManagedProcess]:
        return [p for p in self._procs.values() if not p.closed]
