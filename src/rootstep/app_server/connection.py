"""One client connection: reads lines, dispatches requests, writes responses/notifications.

The connection's ``run`` is the one owner task of the link. Each request runs in a task of its
own (a pooled worker, see :mod:`rootstep.app_server.workers`), so a slow request never blocks
reading, except ``initialize``, which is handled in line so
nothing can overtake it. Requests sharing a serialization scope (e.g. every ``turn/*`` of one
thread) run one at a time, in arrival order. Every outgoing message is one whole line written
under the peer's lock.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from pydantic import ValidationError

from rootstep import preload
from rootstep.app_server.context import RequestContext
from rootstep.app_server.handshake import ClientSession, HandshakeError, initialize_result, parse_initialize
from rootstep.app_server.methods import describe_validation_error
from rootstep.app_server.workers import WorkerPool
from rootstep.core.manager import ThreadError
from rootstep.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    OVERLOADED,
    PARSE_ERROR,
    ErrorResponse,
    JsonRpcError,
    LineReader,
    LineTooLong,
    Notification,
    Peer,
    Request,
    Response,
    parse_message,
)
from rootstep.jsonrpc.messages import encode_response, encode_response_json, printable
from rootstep.protocol.base import wire, wire_json

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer

log = logging.getLogger(__name__)

# codex answers -32001 when its inbound queue (CHANNEL_CAPACITY = 128 messages,
# app-server-transport/src/transport/mod.rs) is full, i.e. when requests arrive faster than they
# are dispatched; long calls it has dispatched do not count. rootstep dispatches every request
# at once, so its bound is on requests in flight, set well above what a client runs
# concurrently (the reliability suite keeps 1,000 tool calls in flight on one connection).
MAX_IN_FLIGHT = 4096
MAX_IN_FLIGHT_ENV = "ROOTSTEP_MAX_IN_FLIGHT_REQUESTS"
OVERLOADED_MESSAGE = "Server overloaded; retry later."


def max_in_flight(environ: Mapping[str, str] = os.environ) -> int:
    """The per-connection request capacity: the env override (a positive integer) or :data:`MAX_IN_FLIGHT`."""
    raw = environ.get(MAX_IN_FLIGHT_ENV, "").strip()
    try:
        value = int(raw) if raw else MAX_IN_FLIGHT
    except ValueError:
        log.warning("%s=%r is not an integer; using %d", MAX_IN_FLIGHT_ENV, raw, MAX_IN_FLIGHT)
        return MAX_IN_FLIGHT
    return value if value > 0 else MAX_IN_FLIGHT


class Connection:
    def __init__(
        self,
        server: AppServer,
        receive: ByteReceiveStream | None,
        send: ByteSendStream,
        *,
        session: ClientSession | None = None,
        name: str = "stdio",
        messages: AsyncIterator[bytes] | None = None,
        capacity: int | None = None,
    ) -> None:
        self.server = server
        self.name = name
        self._receive = receive
        self._send = send
        # Message-framed transports (websocket) hand whole messages instead of a byte stream.
        self._messages = messages
        self.peer = Peer(send.send, stamp_notifications=True, atomic_lines=getattr(send, "atomic_lines", False))
        self.session = session
        self._scopes: dict[str, anyio.Lock] = {}
        # Threads whose notifications this client follows (see ``AppServer.emit``).
        self.subscriptions: set[str] = set()
        self.capacity = max_in_flight() if capacity is None else capacity
        self.in_flight = 0

    @property
    def initialized(self) -> bool:
        return self.session is not None

    # --- outgoing -------------------------------------------------------------------------

    async def send_result(self, request_id: Any, result: Any) -> None:
        """Answer with ``result``; one that cannot be serialized (a lone surrogate that came from
        a model, an MCP server or an old rollout) is answered ``-32603`` instead, and the
        connection goes on."""
        try:
            payload = wire_json(result)
            if payload is not None:  # a model: serialized once, straight to JSON
                line = encode_response_json(request_id, payload)
            else:
                line = encode_response(request_id, {} if result is None else wire(result))
        except (ValueError, TypeError) as exc:  # PydanticSerializationError is a ValueError
            message = printable(str(exc))
            log.error("connection %s: cannot serialize the response to request %r: %s", self.name, request_id, message)
            await self.send_error(request_id, INTERNAL_ERROR, f"failed to serialize the response: {message}")
            return
        await self._safe(self.peer.send_line(line))
        preload.release()  # imports kept back while this was being answered

    async def send_error(self, request_id: Any, code: int, message: str, data: Any = None) -> None:
        await self._safe(self.peer.respond_error(request_id, JsonRpcError(code, message, data)))
        preload.release()

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification unless the client is not initialized or opted out of it."""
        if self.session is None or method in self.session.opt_out or self.peer.closed:
            return
        try:
            payload = wire_json(params)
            if payload is not None:
                await self._safe(self.peer.notify_json(method, payload))
                return
            await self._safe(self.peer.notify(method, params))
        except (ValueError, TypeError) as exc:
            # A notification has no error channel, and dropping one (say an item/completed)
            # would leave the client waiting: what UTF-8 cannot carry becomes "?".
            log.warning("connection %s: %s notification holds text that is not UTF-8 (%s); sent with it replaced",
                        self.name, method, printable(str(exc)))
            try:
                sanitized = json.loads(printable(json.dumps(wire(params), ensure_ascii=False)))
                await self._safe(self.peer.notify(method, sanitized))
            except (ValueError, TypeError) as again:
                log.error("connection %s: dropping a %s notification: %s", self.name, method, printable(str(again)))

    async def request(self, method: str, params: Any, *, timeout: float | None = None, on_id: Any = None) -> Any:
        """A server→client request (elicitation, user input); returns the client's result
        (``on_id`` learns the request id before it is sent)."""
        return await self.peer.request(method, wire(params), timeout=timeout, on_id=on_id)

    async def _safe(self, send: Any) -> None:
        try:
            await send
        except (JsonRpcError, anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError, OSError):
            log.debug("connection %s: write after close dropped", self.name)

    # --- incoming -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the client closes its side (EOF); then fail pending server requests."""
        if self._messages is not None:
            reader: AsyncIterator[bytes] = self._messages
        else:
            assert self._receive is not None, "a connection reads a byte stream or whole messages"
            reader = LineReader(self._receive)
        try:
            async with anyio.create_task_group() as group:
                workers = WorkerPool(group)
                while True:
                    try:
                        line = await reader.__anext__()
                    except StopAsyncIteration:
                        break
                    except LineTooLong as exc:
                        log.warning("connection %s: %s; dropped", self.name, exc)
                        await self.send_error(None, INVALID_REQUEST, f"Invalid request: {exc}")
                        continue
                    try:
                        await self._dispatch_line(line, workers)
                    except Exception:  # noqa: BLE001 - one bad line never ends the connection
                        log.exception("connection %s: failed to dispatch a line", self.name)
                        await self.send_error(None, INTERNAL_ERROR, "internal error while reading the request")
                group.cancel_scope.cancel()
        finally:
            self.peer.close()

    async def _dispatch_line(self, line: bytes, workers: WorkerPool) -> None:
        try:
            message = parse_message(line)
        except RecursionError:
            log.warning("connection %s: nesting too deep; line dropped (%d bytes)", self.name, len(line))
            await self.send_error(None, PARSE_ERROR, "Parse error: nesting too deep")
            return
        except JsonRpcError as exc:
            preview = line[:200].decode("utf-8", "replace")
            log.warning("connection %s: %s; line: %s", self.name, exc.message, preview)
            await self.send_error(None, exc.code if exc.code in (PARSE_ERROR, INVALID_REQUEST) else INVALID_REQUEST,
                                  exc.message)
            return
        if isinstance(message, (Response, ErrorResponse)):
            if not self.peer.resolve(message):
                log.warning("connection %s: response to unknown request id %r", self.name, message.id)
            return
        if isinstance(message, Notification):
            log.debug("connection %s: client notification %s", self.name, message.method)
            return
        assert isinstance(message, Request)
        if self.in_flight >= self.capacity:
            log.warning("connection %s: %d requests in flight; %s answered -32001", self.name, self.in_flight,
                        message.method)
            await self.send_error(message.id, OVERLOADED, OVERLOADED_MESSAGE)
            return
        if message.method == "initialize":
            await self._initialize(message)
            return
        if self.session is None:
            await self.send_error(message.id, INVALID_REQUEST, "Not initialized")
            return
        try:
            spec = self.server.methods.get(message.method)
            params = self._parse_params(spec, message)
        except JsonRpcError as exc:
            await self.send_error(message.id, exc.code, exc.message, exc.data)
            return
        key = spec.scope(params) if spec.scope is not None else None
        self.in_flight += 1
        workers.submit(self._run_request, spec, message, params, key)

    def _parse_params(self, spec: Any, message: Request) -> Any:
        if spec.experimental and not self.session.experimental_api:  # type: ignore[union-attr]
            raise JsonRpcError(INVALID_REQUEST, f"{spec.method} requires experimentalApi capability")
        if spec.params is None:
            return None
        raw = message.params
        if raw is None:
            if spec.params_required and not message.has_params:
                raise JsonRpcError(INVALID_REQUEST, "Invalid request: missing field `params`")
            raw = {}
        if not isinstance(raw, dict):
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: invalid type: expected struct params")
        if not self.session.experimental_api:  # type: ignore[union-attr]
            for name in spec.experimental_fields:
                if raw.get(name) is not None:
                    raise JsonRpcError(INVALID_REQUEST, f"{spec.method}.{name} requires experimentalApi capability")
        try:
            # Strict, from JSON, as serde reads it: "yes" is not a boolean, "3" not an integer.
            return spec.params.model_validate_json(json.dumps(raw), strict=True)
        except ValidationError as exc:
            raise JsonRpcError(INVALID_REQUEST, describe_validation_error(exc)) from None
        except RecursionError:
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: params nested too deeply") from None

    async def _run_request(self, spec: Any, message: Request, params: Any, key: str | None) -> None:
        try:
            await self._handle(spec, message, params, key)
        finally:
            self.in_flight -= 1

    async def _handle(self, spec: Any, message: Request, params: Any, key: str | None) -> None:
        ctx = RequestContext(server=self.server, connection=self, request_id=message.id, method=message.method)
        lock = None
        if key is not None:
            lock = self._scopes.setdefault(key, anyio.Lock(fast_acquire=True))
        try:
            if lock is not None:
                async with lock:
                    result = await spec.handler(ctx, params)
            else:
                result = await spec.handler(ctx, params)
        except JsonRpcError as exc:
            await ctx.respond_error(exc.code, exc.message, exc.data)
            return
        except ThreadError as exc:  # a request about threads that cannot be honoured: -32600
            await ctx.respond_error(INVALID_REQUEST, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a handler bug answers -32603; the server keeps serving
            log.exception("%s failed", message.method)
            await ctx.respond_error(INTERNAL_ERROR, f"internal error: {exc}")
            return
        await ctx.respond(result)

    async def _initialize(self, message: Request) -> None:
        if self.session is not None:
            await self.send_error(message.id, INVALID_REQUEST, "Already initialized")
            return
        try:
            session = parse_initialize(message.params)
        except HandshakeError as exc:
            await self.send_error(message.id, INVALID_REQUEST, str(exc))
            return
        self.session = session
        self.server.on_initialized(self)
        await self.send_result(message.id, initialize_result(session, str(self.server.config.home)))
        await self.server.after_initialize(self)

