"""A process in an executor, through the exec-server ``process/*`` methods.

The sandbox policy travels as ``process/start.sandbox`` (0.169's ``FileSystemSandboxContext``,
built by :mod:`rootstep.sandbox.exec_context`); the executor enforces it or refuses the start.
Output arrives as ``process/output`` notifications, re-ordered by seq in the client's
:class:`~rootstep.environments.exec_client.ProcessSession`.
"""

from __future__ import annotations

import errno

from rootstep.environments.exec_client import ProcessSession
from rootstep.environments.processes import (
    OutputChunk,
    ProcessFailed,
    ProcessSpec,
    ProcessStartError,
    StdinClosed,
)
from rootstep.jsonrpc.errors import ConnectionClosed, JsonRpcError
from rootstep.protocol import exec_server as p
from rootstep.sandbox.exec_context import context_from_policy


def start_params(spec: ProcessSpec, process_id: str) -> p.ProcessStartParams:
    """Pure: the ``process/start`` params for a spec."""
    sandbox = None
    if spec.sandbox is not None:
        sandbox = context_from_policy(spec.sandbox, spec.sandbox_cwd or spec.cwd)
    return p.ProcessStartParams(
        process_id=process_id, argv=list(spec.argv), cwd=p.path_to_uri(spec.cwd), env=dict(spec.env),
        env_policy=spec.env_policy, tty=spec.tty, pipe_stdin=spec.pipe_stdin and not spec.tty, arg0=spec.arg0,
        sandbox=sandbox,
    )


class RemoteProcess:
    def __init__(self, session: ProcessSession, *, sandboxed: bool, tty: bool, pipe_stdin: bool) -> None:
        self._session = session
        self._sandboxed = sandboxed
        self._tty = tty
        self._pipe_stdin = pipe_stdin
        self._exit_code: int | None = None
        self._done = False
        self._closed = False

    @classmethod
    async def start(cls, client: object, spec: ProcessSpec, process_id: str) -> RemoteProcess:
        params = start_params(spec, process_id)
        try:
            session = await client.start_process(params)  # type: ignore[attr-defined]
        except ConnectionClosed as exc:
            raise ProcessFailed(exc.message) from None
        except JsonRpcError as exc:
            raise ProcessStartError(errno.EIO, exc.message) from None
        return cls(session, sandboxed=params.sandbox is not None, tty=spec.tty, pipe_stdin=spec.pipe_stdin)

    @property
    def id(self) -> str:
        return self._session.id

    @property
    def pid(self) -> int | None:
        return None

    @property
    def sandboxed(self) -> bool:
        return self._sandboxed

    @property
    def exit_code(self) -> int | None:
        return self._exit_code

    async def read(self) -> OutputChunk | None:
        while not self._done:
            try:
                event = await self._session.events.receive()
            except Exception:  # stream closed after `closed`/`failed`
                self._done = True
                break
            if event.kind == "output":
                return OutputChunk(event.stream, event.data)  # type: ignore[arg-type]
            if event.kind == "exited":
                self._exit_code = event.exit_code
            elif event.kind == "closed":
                self._done = True
            elif event.kind == "failed":
                self._done = True
                raise ProcessFailed(event.error or "process failed")
        return None

    async def wait(self) -> int:
        while self._exit_code is None and not self._done:
            await self.read()
        if self._exit_code is None:
            raise ProcessFailed("process ended without an exit code")
        return self._exit_code

    async def write(self, data: bytes) -> None:
        if not self._tty and not self._pipe_stdin:
            raise StdinClosed(errno.EPIPE, "stdin is closed for this process")
        try:
            status = await self._session.write(data)
        except (ConnectionClosed, JsonRpcError) as exc:
            raise StdinClosed(errno.EPIPE, getattr(exc, "message", str(exc))) from None
        if status != "accepted":
            raise StdinClosed(errno.EPIPE, f"stdin is closed for this process ({status})")

    async def resize(self, rows: int, cols: int) -> None:
        raise StdinClosed(errno.ENOTSUP, "the exec-server protocol cannot resize a terminal")

    async def interrupt(self) -> None:
        try:
            await self._session.client.request(p.PROCESS_SIGNAL, p.wire(p.ProcessSignalParams(process_id=self.id)))
        except (ConnectionClosed, JsonRpcError):
            pass

    async def terminate(self) -> None:
        if self._session.finished:
            return
        try:
            await self._session.terminate()
        except (ConnectionClosed, JsonRpcError):
            pass

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._session.finished and self._exit_code is None:
            await self.terminate()
