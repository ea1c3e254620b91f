"""Exec-server sessions that outlive their websocket connection, for a while.

A session owns the processes a client started. Over stdio the session dies with its
connection (EOF kills everything). Over websocket a dropped connection only *detaches* the
session: its processes keep running and their events keep being recorded (so
``process/read afterSeq`` returns what was produced meanwhile), notifications are simply not
sent. A new connection can re-attach with ``initialize{resumeSessionId}`` within the TTL
(30 s, like the reference's ``session_registry.rs``); after it the session's processes are
killed and reaped. A resume of an unknown or expired id is ``-32600 "unknown session id"``;
of a session that still has a connection, ``-32010``.

Each session runs its processes in its own task group (a child of the registry's), so a
session can be shut down without touching the others and without waiting for the
connection that created it.
"""

from __future__ import annotations

import logging
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from rootstep import preload
from rootstep.jsonrpc.errors import INVALID_REQUEST, SESSION_ALREADY_ATTACHED, JsonRpcError

if TYPE_CHECKING:
    from rootstep.exec_server.processes import Notify, ProcessTable

log = logging.getLogger(__name__)

# Loaded at a session's first process request (an executor that serves only files never needs
# it; main.py loads it in the background once the first answer is out).
PROCESSES_MODULE = "rootstep.exec_server.processes"

DETACHED_SESSION_TTL_S = 30.0
SHUTDOWN_GRACE_S = 2.0


def unknown_session(session_id: str) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, f"unknown session id {session_id}")


def already_attached(session_id: str) -> JsonRpcError:
    return JsonRpcError(SESSION_ALREADY_ATTACHED, f"session {session_id} is already attached to another connection")


class Session:
    """One client's processes, plus where their notifications go right now (maybe nowhere)."""

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self._sink: Notify | None = None
        self._processes: ProcessTable | None = None
        self._tg: TaskGroup | None = None
        self._done = anyio.Event()
        self._closed = False
        # Bumped on every attach/detach: a TTL timer only fires for the detach that started it.
        self.generation = 0
        self.attached = False

    async def processes(self) -> ProcessTable:
        """The session's process table, made at its first use."""
        if self._processes is None:
            await preload.ready(PROCESSES_MODULE)
            from rootstep.exec_server.processes import ProcessTable

            if self._processes is None:
                if self._closed:
                    raise JsonRpcError(INVALID_REQUEST, f"session {self.id} is shut down")
                assert self._tg is not None, "session not started"
                self._processes = ProcessTable(self._tg, self._notify)
        return self._processes

    @property
    def closed(self) -> bool:
        return self._closed

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The session's owner task: hosts its processes until ``shutdown``."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await self._done.wait()
            tg.cancel_scope.cancel()

    async def _notify(self, method: str, params: Any) -> None:
        """Forward to the attached connection; while detached the event is only recorded."""
        sink = self._sink
        if sink is not None:
            await sink(method, params)

    def attach(self) -> None:
        """Claim the session for a connection; its notifications flow once ``connect`` is called."""
        self.attached = True
        self.generation += 1

    def connect(self, sink: Notify) -> None:
        if self.attached and not self._closed:
            self._sink = sink

    def detach(self) -> None:
        self.attached = False
        self.generation += 1
        self._sink = None

    async def shutdown(self) -> None:
        """Kill every process (SIGTERM, then SIGKILL after a grace), wait until reaped, stop."""
        if self._closed:
            return
        self._closed = True
        self._sink = None
        procs = self._processes
        if procs is not None:
            procs.kill_all(signal.SIGTERM)
            with anyio.move_on_after(SHUTDOWN_GRACE_S):
                while any(not p.exited for p in procs.live):
                    await anyio.sleep(0.01)
            procs.kill_all(signal.SIGKILL)
            with anyio.move_on_after(SHUTDOWN_GRACE_S):
                while procs.live:
                    await anyio.sleep(0.01)
        self._done.set()


class SessionRegistry:
    """Sessions by id; detached ones expire after ``ttl`` seconds.

    Open it with :meth:`open`; leaving that context shuts every session down.
    """

    def __init__(self, tg: TaskGroup, *, ttl: float = DETACHED_SESSION_TTL_S) -> None:
        self._tg = tg
        self.ttl = ttl
        self._sessions: dict[str, Session] = {}

    @classmethod
    @asynccontextmanager
    async def open(cls, *, ttl: float = DETACHED_SESSION_TTL_S) -> AsyncIterator[SessionRegistry]:
        async with anyio.create_task_group() as tg:
            registry = cls(tg, ttl=ttl)
            try:
                yield registry
            finally:
                with anyio.CancelScope(shield=True):
                    await registry.shutdown()
                tg.cancel_scope.cancel()

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def attach(self, resume_session_id: str | None, *, new_id: str | None = None) -> Session:
        """A new session (with ``new_id`` when one was already announced), or the detached one
        named by ``resume_session_id`` re-attached."""
        session: Session | None
        if resume_session_id is None:
            session = Session(new_id or str(uuid.uuid4()))
            await self._tg.start(session.run)
            self._sessions[session.id] = session
        else:
            session = self._sessions.get(resume_session_id)
            if session is None or session.closed:
                raise unknown_session(resume_session_id)
            if session.attached:
                raise already_attached(resume_session_id)
        session.attach()
        return session

    def detach(self, session: Session) -> None:
        """The connection is gone: keep the session for ``ttl`` seconds awaiting a resume."""
        if session.closed or not session.attached:
            return
        session.detach()
        self._tg.start_soon(self._expire_if_detached, session, session.generation)

    async def _expire_if_detached(self, session: Session, generation: int) -> None:
        await anyio.sleep(self.ttl)
        if session.generation != generation or session.attached:
            return
        log.info("detached session %s expired; killing its processes", session.id)
        await self.close(session)

    async def close(self, session: Session) -> None:
        """Forget the session and kill its processes."""
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
        await session.shutdown()

    async def shutdown(self) -> None:
        for session in list(self._sessions.values()):
            await self.close(session)
