"""Client side of the exec-server protocol: RPC, process sessions, streamed HTTP bodies.

The client does not read by itself: the owner of the link runs :meth:`ExecServerClient.run`
over the incoming messages (one task per link). Interest in a process is registered *before*
``process/start`` is sent, because the reference may push output ahead of the start response;
events are re-ordered by their per-process ``seq``. When the link ends, every pending request
fails at once and every process session and body stream gets a terminal failure.

A websocket link may instead *lose its connection* and recover it (:meth:`lose_connection`,
:meth:`install`, :meth:`resume_session`, :meth:`finish_recovery`, driven by
:func:`~rootstep.environments.links.open_websocket_link`): requests in flight fail, body
streams fail, new requests wait for the outcome, process sessions survive and get the events
they missed replayed (:mod:`.exec_recovery`). Process writes, reads and terminates that were
cut off are sent again once recovered (write ids make a repeated write harmless).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import BaseModel, ValidationError

from rootstep.environments.exec_recovery import RecoveryGap, plan_replay
from rootstep.jsonrpc.errors import INTERNAL_ERROR, METHOD_NOT_FOUND, ConnectionClosed, JsonRpcError
from rootstep.jsonrpc.messages import ErrorResponse, Notification, Request, Response, parse_message
from rootstep.jsonrpc.peer import Peer
from rootstep.protocol import exec_server as p

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
DISCONNECTED = "exec-server transport disconnected"
CLIENT_NAME = "codex-environment"


@dataclass(frozen=True)
class ProcessEvent:
    """One event of a process, delivered in seq order. ``failed`` is synthesized locally."""

    kind: Literal["output", "exited", "closed", "failed"]
    seq: int = 0
    stream: str = ""
    data: bytes = b""
    exit_code: int | None = None
    error: str | None = None


class ProcessSession:
    """Our handle on one process in the executor."""

    def __init__(self, client: ExecServerClient, process_id: str) -> None:
        self.client = client
        self.id = process_id
        self._send: MemoryObjectSendStream[ProcessEvent]
        self._send, self._receive = anyio.create_memory_object_stream[ProcessEvent](math.inf)
        self._held: dict[int, ProcessEvent] = {}
        self._next = 1
        self._write_ids = itertools.count(1)
        self.exit_code: int | None = None
        self.finished = False
        self.started = False  # process/start answered: the executor knows it, recovery may read it
        self._exit_known = False

    @property
    def last_delivered(self) -> int:
        return self._next - 1

    @property
    def events(self) -> MemoryObjectReceiveStream[ProcessEvent]:
        return self._receive

    def _deliver(self, event: ProcessEvent) -> None:
        if self.finished or event.seq < self._next or event.seq in self._held:
            return  # duplicate or stale
        self._held[event.seq] = event
        if event.kind == "exited":
            self._exit_known = True
        while self._next in self._held:
            ready = self._held.pop(self._next)
            self._next += 1
            if ready.kind == "exited":
                self.exit_code = ready.exit_code
            self._send.send_nowait(ready)
            if ready.kind == "closed":
                self._finish()
                return

    def abandon(self, reason: str) -> None:
        """Tell the reader of ``events`` to give up (a ``failed`` event); the process itself is
        still ours to ``terminate``."""
        if not self.finished:
            self._send.send_nowait(ProcessEvent("failed", error=reason))

    def _fail(self, message: str) -> None:
        if not self.finished:
            self._send.send_nowait(ProcessEvent("failed", error=message))
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        self._send.close()
        self.client._processes.pop(self.id, None)

    async def write(self, data: bytes) -> str:
        """Write to stdin; returns the server's status (``accepted`` on success)."""
        result = await self.client.call_surviving_recovery(
            p.PROCESS_WRITE,
            p.ProcessWriteParams(process_id=self.id, chunk=p.b64encode(data), write_id=str(next(self._write_ids))),
            p.ProcessWriteResult,
        )
        return result.status

    async def terminate(self) -> bool:
        result = await self.client.call_surviving_recovery(
            p.PROCESS_TERMINATE, p.ProcessTerminateParams(process_id=self.id), p.ProcessTerminateResult
        )
        return result.running

    async def read(self, after_seq: int = 0, *, wait_ms: int = 0, max_bytes: int | None = None) -> p.ProcessReadResult:
        return await self.client.call_surviving_recovery(
            p.PROCESS_READ,
            p.ProcessReadParams(process_id=self.id, after_seq=after_seq, max_bytes=max_bytes, wait_ms=wait_ms),
            p.ProcessReadResult,
        )

    def _replay(self, result: p.ProcessReadResult) -> None:
        """Deliver what a ``process/read`` after a resume says we missed; a gap raises."""
        if result.failure is not None:
            raise RecoveryGap(f"process failed while recovering: {result.failure}")
        missed = plan_replay(
            last_delivered=self.last_delivered,
            held=self._held,
            exit_known=self._exit_known,
            chunks=[(c.seq, c.stream, p.b64decode(c.chunk)) for c in result.chunks],
            next_seq=result.next_seq,
            exited=result.exited,
            exit_code=result.exit_code,
            closed=result.closed,
        )
        for m in missed:
            self._deliver(ProcessEvent(m.kind, m.seq, m.stream, m.data, exit_code=m.exit_code))  # type: ignore[arg-type]


class HttpBodyStream:
    """Deltas of one streamed ``http/request`` body, checked for contiguous seq."""

    def __init__(self, client: ExecServerClient, request_id: str) -> None:
        self.client = client
        self.request_id = request_id
        self._send, self._receive = anyio.create_memory_object_stream[bytes | Exception](math.inf)
        self._next = 1
        self.done = False

    def _deliver(self, n: p.HttpBodyDeltaNotification) -> None:
        if self.done:
            return
        if n.seq != self._next:
            self._fail(f"http body stream {self.request_id} skipped from seq {self._next} to {n.seq}")
            return
        self._next += 1
        if n.delta_base64:
            self._send.send_nowait(p.b64decode(n.delta_base64))
        if n.error is not None:
            self._fail(n.error)
        elif n.done:
            self._finish()

    def _fail(self, message: str) -> None:
        if not self.done:
            self._send.send_nowait(ConnectionError(message))
            self._finish()

    def _finish(self) -> None:
        self.done = True
        self._send.close()
        self.client._http_streams.pop(self.request_id, None)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for item in self._receive:
            if isinstance(item, Exception):
                raise item
            yield item

    async def aclose(self) -> None:
        self._finish()
        self._receive.close()


class ExecServerClient:
    """One exec-server link. Ids start at 1 like the Rust client's."""

    def __init__(self, write_line: Callable[[bytes], Awaitable[None]], *, name: str = "exec-server") -> None:
        self.name = name
        self.peer = Peer(write_line, first_id=1)
        self._processes: dict[str, ProcessSession] = {}
        self._http_streams: dict[str, HttpBodyStream] = {}
        self._http_ids = itertools.count(1)
        self.session_id: str | None = None
        self.environment_info: dict[str, Any] | None = None
        self.failure: str | None = None
        self.closed_event = anyio.Event()
        self._recovered: anyio.Event | None = None  # set while a lost connection is being recovered
        self._orphans: set[str] = set()  # process ids whose start was cut off by a lost connection
        self.connection_losses = 0
        self._installs = 0

    @property
    def recovering(self) -> bool:
        return self._recovered is not None and self.failure is None

    @property
    def closed(self) -> bool:
        return self.closed_event.is_set()

    # --- requests ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        params: BaseModel | dict[str, Any] | None,
        result_model: type[M],
        *,
        timeout: float | None = None,
    ) -> M:
        raw = await self.request(method, params, timeout=timeout)
        try:
            return result_model.model_validate(raw)
        except ValidationError as exc:
            raise JsonRpcError(
                INTERNAL_ERROR, f"malformed {method} result from {self.name}: {exc.errors()[0]['msg']}"
            ) from None

    async def request(
        self, method: str, params: BaseModel | dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send on the current connection; while a lost one is being recovered, wait for it."""
        wire_params = p.wire(params) if isinstance(params, BaseModel) else params
        while True:
            if self.failure is not None:
                raise ConnectionClosed(self.failure)
            if self._recovered is None:
                return await self.peer.request(method, wire_params, timeout=timeout)
            await self._recovered.wait()

    async def call_surviving_recovery(self, method: str, params: BaseModel, result_model: type[M]) -> M:
        """``call`` for idempotent process requests: one cut off by a lost connection is sent
        again once the session is resumed (fails as usual if recovery fails)."""
        while True:
            losses = self.connection_losses
            try:
                return await self.call(method, params, result_model)
            except ConnectionClosed:
                if self.failure is not None or self.connection_losses == losses:
                    raise

    async def initialize(self, timeout: float | None = 10.0) -> p.InitializeResult:
        """Handshake: ``initialize`` (accepting 0.169's extra ``environmentInfo``), then ``initialized``."""
        raw = await self.request(p.INITIALIZE, {"clientName": CLIENT_NAME, "resumeSessionId": None}, timeout=timeout)
        result = p.InitializeResult.model_validate(raw)
        if self.session_id is not None and result.session_id != self.session_id:
            raise JsonRpcError(INTERNAL_ERROR, "exec-server returned a different session id")
        self.session_id = result.session_id
        if isinstance(raw, dict) and isinstance(raw.get("environmentInfo"), dict):
            self.environment_info = raw["environmentInfo"]
        await self.peer.notify(p.INITIALIZED, {})
        return result

    # --- processes --------------------------------------------------------------------------

    async def start_process(self, params: p.ProcessStartParams) -> ProcessSession:
        if params.process_id in self._processes:
            raise JsonRpcError(INTERNAL_ERROR, f"process {params.process_id} is already registered")
        session = ProcessSession(self, params.process_id)
        self._processes[params.process_id] = session  # before start: output may come first
        try:
            await self.call(p.PROCESS_START, params, p.ProcessStartResult)
        except BaseException as exc:
            if self._processes.get(params.process_id) is session:
                del self._processes[params.process_id]
            if isinstance(exc, ConnectionClosed) and self.recovering:
                self._orphans.add(params.process_id)  # it may have started: terminate it on resume
            raise
        session.started = True
        return session

    # --- http -------------------------------------------------------------------------------

    async def http_request(self, params: p.HttpRequestParams) -> tuple[p.HttpRequestResult, HttpBodyStream | None]:
        """Buffered, or streamed under a connection-local ``http-<n>`` id."""
        if not params.stream_response:
            return await self.call(p.HTTP_REQUEST, params, p.HttpRequestResult), None
        request_id = f"http-{next(self._http_ids)}"
        stream = HttpBodyStream(self, request_id)
        self._http_streams[request_id] = stream
        try:
            result = await self.call(
                p.HTTP_REQUEST, params.model_copy(update={"request_id": request_id}), p.HttpRequestResult
            )
        except BaseException:
            self._http_streams.pop(request_id, None)
            raise
        return result, stream

    # --- the reader -------------------------------------------------------------------------

    async def run(self, messages: AsyncIterator[bytes | str]) -> None:
        """Owner loop of the link: route every incoming message until the link ends."""
        try:
            await self.read_messages(messages)
        finally:
            self.close(DISCONNECTED)

    async def read_messages(self, messages: AsyncIterator[bytes | str]) -> None:
        """Route every incoming message of one connection until it ends (never raises)."""
        try:
            async for line in messages:
                try:
                    message = parse_message(line)
                except JsonRpcError as exc:
                    log.warning("%s sent an unparsable line: %s", self.name, exc.message)
                    break
                if isinstance(message, (Response, ErrorResponse)):
                    if not self.peer.resolve(message):
                        log.debug("%s: response to an unknown request id %r", self.name, message.id)
                elif isinstance(message, Notification):
                    self._route(message)
                elif isinstance(message, Request):
                    # The server never asks us anything today; tolerate a newer one that does.
                    await self.peer.respond_error(
                        message.id, JsonRpcError(METHOD_NOT_FOUND, f"client does not implement `{message.method}`")
                    )
        except Exception as exc:
            log.info("%s link failed: %r", self.name, exc)

    def _route(self, n: Notification) -> None:
        try:
            if n.method == p.PROCESS_OUTPUT:
                out = p.ProcessOutputNotification.model_validate(n.params)
                if (s := self._processes.get(out.process_id)) is not None:
                    s._deliver(ProcessEvent("output", out.seq, out.stream, p.b64decode(out.chunk)))
            elif n.method == p.PROCESS_EXITED:
                ex = p.ProcessExitedNotification.model_validate(n.params)
                if (s := self._processes.get(ex.process_id)) is not None:
                    s._deliver(ProcessEvent("exited", ex.seq, exit_code=ex.exit_code))
            elif n.method == p.PROCESS_CLOSED:
                cl = p.ProcessClosedNotification.model_validate(n.params)
                if (s := self._processes.get(cl.process_id)) is not None:
                    s._deliver(ProcessEvent("closed", cl.seq))
            elif n.method == p.HTTP_BODY_DELTA:
                delta = p.HttpBodyDeltaNotification.model_validate(n.params)
                if (h := self._http_streams.get(delta.request_id)) is not None:
                    h._deliver(delta)
            else:
                log.debug("%s: ignoring notification %s", self.name, n.method)
        except (ValidationError, JsonRpcError) as exc:
            log.warning("%s: malformed %s notification: %s", self.name, n.method, exc)

    def close(self, reason: str = DISCONNECTED) -> None:
        """Fail everything in flight now; idempotent."""
        if self.failure is None:
            self.failure = reason
        self.peer.close(self.failure)
        for session in list(self._processes.values()):
            session._fail(self.failure)
        for stream in list(self._http_streams.values()):
            stream._fail(self.failure)
        if self._recovered is not None:
            self._recovered.set()  # waiters wake up and see the failure
        self.closed_event.set()

    # --- recovery of a lost connection (websocket) --------------------------------------------

    def lose_connection(self, reason: str = DISCONNECTED) -> None:
        """The connection dropped but the session may be resumed: fail requests in flight and
        body streams (as the reference does), keep process sessions, hold new requests."""
        if self.failure is not None or self._recovered is not None:
            return
        self._recovered = anyio.Event()
        self.connection_losses += 1
        self.peer.close(reason)
        for stream in list(self._http_streams.values()):
            stream._fail(reason)

    def install(self, write_line: Callable[[bytes], Awaitable[None]]) -> None:
        """A new connection to try resuming over; responses now resolve against its peer."""
        self.peer.close(DISCONNECTED)
        # Ids stay unique across attempts, so a late answer on an abandoned connection can
        # never resolve a request of the new one.
        self._installs += 1
        self.peer = Peer(write_line, first_id=self._installs * 1_000_000 + 1)

    async def resume_session(self) -> None:
        """Over the installed connection: ``initialize{resumeSessionId}``, then terminate the
        processes whose start was cut off and replay what every followed process missed.

        A JsonRpcError from ``initialize`` (``-32010`` is worth a retry, ``-32600`` is not) and
        ConnectionClosed propagate; a process that cannot be recovered fails on its own.
        """
        raw = await self.peer.request(p.INITIALIZE, {"clientName": CLIENT_NAME, "resumeSessionId": self.session_id})
        result = p.InitializeResult.model_validate(raw)
        if result.session_id != self.session_id:
            raise JsonRpcError(INTERNAL_ERROR, "exec-server returned a different session id")
        await self.peer.notify(p.INITIALIZED, {})
        for process_id in sorted(self._orphans):
            try:
                await self.peer.request(p.PROCESS_TERMINATE, p.wire(p.ProcessTerminateParams(process_id=process_id)))
            except ConnectionClosed:
                raise
            except JsonRpcError:
                pass
            self._orphans.discard(process_id)
        for session in [s for s in self._processes.values() if s.started and not s.finished]:
            params = p.ProcessReadParams(
                process_id=session.id, after_seq=session.last_delivered, max_bytes=None, wait_ms=0
            )
            try:
                read = p.ProcessReadResult.model_validate(await self.peer.request(p.PROCESS_READ, p.wire(params)))
                session._replay(read)
            except ConnectionClosed:
                raise
            except (JsonRpcError, ValidationError, RecoveryGap) as exc:
                message = exc.message if isinstance(exc, JsonRpcError) else str(exc)
                log.warning("%s: failed to recover process %s: %s", self.name, session.id, message)
                try:
                    await self.peer.request(
                        p.PROCESS_TERMINATE, p.wire(p.ProcessTerminateParams(process_id=session.id))
                    )
                except ConnectionClosed:
                    raise
                except JsonRpcError:
                    pass
                session._fail(f"failed to recover process {session.id}: {message}")

    def finish_recovery(self) -> None:
        """The session is resumed: release the requests that waited."""
        recovered, self._recovered = self._recovered, None
        if recovered is not None:
            recovered.set()
