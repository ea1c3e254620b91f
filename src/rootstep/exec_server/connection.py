"""One exec-server connection: the handshake state machine and strictly sequential dispatch.

Requests are handled one at a time, as the reference does (spec §1.6). Processes belong to
the connection's *session* (:mod:`.sessions`); streamed HTTP bodies and open files belong to
the connection itself. When a stdio connection ends its session's processes are killed; when a
websocket connection ends its session is only detached, and may be resumed by another
connection with ``initialize{resumeSessionId}`` until the registry's TTL runs out.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ValidationError

from rootstep import preload
from rootstep.environments.discovery import MAX_ROOTS, discover_root
from rootstep.environments.host_info import host_environment_info
from rootstep.exec_server.filesystem import FileSystemHandler
from rootstep.exec_server.http import AfterResponse, HttpHandler
from rootstep.exec_server.sessions import Session, SessionRegistry
from rootstep.jsonrpc.errors import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, JsonRpcError
from rootstep.jsonrpc.framing import LineTooLong
from rootstep.jsonrpc.messages import Notification, Request, encode_response, parse_message, printable
from rootstep.jsonrpc.peer import Peer
from rootstep.protocol import exec_server as p

if TYPE_CHECKING:
    from rootstep.exec_server.processes import ProcessTable

log = logging.getLogger(__name__)


class _State(enum.Enum):
    NEW = "new"
    INITIALIZING = "initializing"
    READY = "ready"


@dataclass(frozen=True)
class _Route:
    family: str
    params: type[BaseModel] | None
    handler: Callable[[Any], Awaitable[Any]]


def decode_params(model: type[BaseModel], params: Any) -> Any:
    """Validate params like serde would, with its wording for the common failures."""
    try:
        return model.model_validate({} if params is None else params)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "missing":
            raise JsonRpcError(INVALID_PARAMS, f"missing field `{err['loc'][-1]}`") from None
        if not err["loc"]:
            raise JsonRpcError(INVALID_PARAMS, f"invalid params: {err['msg']}") from None
        raise JsonRpcError(INVALID_PARAMS, f"invalid value for `{loc}`: {err['msg']}") from None


def environment_info() -> p.EnvironmentInfo:
    return host_environment_info()


class ExecServerConnection:
    """Serves one client. ``serve`` is the connection's owner task."""

    def __init__(
        self,
        write_line: Callable[[bytes], Awaitable[None]],
        *,
        transport: str = "stdio",
        registry: SessionRegistry | None = None,
        announced_session: str | None = None,
    ) -> None:
        """``registry`` (websocket) keeps sessions across connections; without one (stdio)
        the session is private to this connection and dies with it. ``announced_session``:
        the fast start already answered ``initialize`` with this session id."""
        self._peer = Peer(write_line)
        self._transport = transport
        self._registry = registry
        self._state = _State.NEW
        self._session: Session | None = None
        self._fs = FileSystemHandler()
        self._http: HttpHandler | None = None
        self._announced = announced_session

    @property
    def session_id(self) -> str | None:
        return None if self._session is None else self._session.id

    async def _procs(self) -> ProcessTable:
        assert self._session is not None, "routes are served only after initialize"
        return await self._session.processes()

    async def _notify(self, method: str, params: Any) -> None:
        await self._peer.notify(method, p.wire(params) if isinstance(params, BaseModel) else params)

    def _routes(self) -> dict[str, _Route]:
        assert self._http is not None
        fs, http = self._fs, self._http

        async def info(_: Any) -> p.EnvironmentInfo:
            return environment_info()

        async def status(_: Any) -> p.EnvironmentStatusResult:
            return p.EnvironmentStatusResult(status="ready")

        async def discover(params: p.DiscoverV1Params) -> p.DiscoverV1Result:
            if len(params.roots) > MAX_ROOTS:
                raise JsonRpcError(INVALID_REQUEST, f"capability root discovery accepts at most {MAX_ROOTS} roots")
            out = []
            for root in params.roots:
                try:
                    native = p.uri_to_path(root.path)
                except JsonRpcError as exc:
                    out.append(p.CapabilityRootDiscovery(id=root.id, path=root.path, error=exc.message))
                    continue
                out.append(await anyio.to_thread.run_sync(discover_root, root.id, root.path, native))
            return p.DiscoverV1Result(roots=out)

        # process/*: the session's process table is made (its module loaded) at the first one.
        async def start(x: p.ProcessStartParams) -> Any:
            return await (await self._procs()).start(x)

        async def read(x: p.ProcessReadParams) -> Any:
            return await (await self._procs()).read(x)

        async def write(x: p.ProcessWriteParams) -> Any:
            return await (await self._procs()).write(x)

        async def interrupt(x: p.ProcessSignalParams) -> Any:
            return await (await self._procs()).interrupt(x.process_id)

        async def terminate(x: p.ProcessTerminateParams) -> Any:
            return await (await self._procs()).terminate(x.process_id)

        return {
            p.ENVIRONMENT_INFO: _Route("environment info", None, info),
            p.ENVIRONMENT_STATUS: _Route("environment status", None, status),
            p.PROCESS_START: _Route("exec", p.ProcessStartParams, start),
            p.PROCESS_READ: _Route("exec", p.ProcessReadParams, read),
            p.PROCESS_WRITE: _Route("exec", p.ProcessWriteParams, write),
            p.PROCESS_SIGNAL: _Route("exec", p.ProcessSignalParams, interrupt),
            p.PROCESS_TERMINATE: _Route("exec", p.ProcessTerminateParams, terminate),
            p.FS_GET_METADATA: _Route("filesystem", p.FsPathParams, fs.get_metadata),
            p.FS_READ_FILE: _Route("filesystem", p.FsPathParams, fs.read_file),
            p.FS_READ_DIRECTORY: _Route("filesystem", p.FsPathParams, fs.read_directory),
            p.FS_CANONICALIZE: _Route("filesystem", p.FsPathParams, fs.canonicalize),
            p.FS_WALK: _Route("filesystem", p.FsWalkParams, fs.walk),
            p.FS_OPEN: _Route("filesystem", p.FsOpenParams, fs.open),
            p.FS_READ_BLOCK: _Route("filesystem", p.FsReadBlockParams, fs.read_block),
            p.FS_CLOSE: _Route("filesystem", p.FsCloseParams, fs.close),
            p.FS_WRITE_BLOCK: _Route("filesystem", p.FsWriteBlockParams, fs.write_block),
            p.FS_WRITE_FILE: _Route("filesystem", p.FsWriteFileParams, fs.write_file),
            p.FS_CREATE_DIRECTORY: _Route("filesystem", p.FsCreateDirectoryParams, fs.create_directory),
            p.FS_REMOVE: _Route("filesystem", p.FsRemoveParams, fs.remove),
            p.FS_COPY: _Route("filesystem", p.FsCopyParams, fs.copy),
            p.FS_RENAME: _Route("filesystem", p.FsRenameParams, fs.rename),
            p.HTTP_REQUEST: _Route("http", p.HttpRequestParams, http.request),
            p.CAPABILITY_ROOTS_DISCOVER_V1: _Route("capability discovery", p.DiscoverV1Params, discover),
        }

    async def serve(self, lines: AsyncIterator[bytes | str]) -> None:
        """Read and dispatch until EOF or a fatal protocol violation; then end or detach the session."""
        if self._registry is not None:
            await self._serve(lines)
            return
        async with SessionRegistry.open(ttl=0) as private:
            self._registry = private
            await self._serve(lines)

    async def _serve(self, lines: AsyncIterator[bytes | str]) -> None:
        async with anyio.create_task_group() as tg:
            self._http = HttpHandler(tg, self._notify)
            routes = self._routes()
            if self._announced is not None:
                assert self._registry is not None
                self._session = await self._registry.attach(None, new_id=self._announced)
                self._state = _State.INITIALIZING
                self._session.connect(self._notify)
            try:
                while True:
                    try:
                        line = await lines.__anext__()
                    except StopAsyncIteration:
                        break
                    except LineTooLong as exc:
                        log.warning("closing connection: %s", exc)
                        break
                    if not await self._handle_line(line, routes):
                        break
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, JsonRpcError) as exc:
                log.info("connection ended: %r", exc)
            finally:
                self._peer.close("exec-server connection closed")
                with anyio.CancelScope(shield=True):
                    await self._shutdown()
                tg.cancel_scope.cancel()

    async def _shutdown(self) -> None:
        assert self._http is not None and self._registry is not None
        self._fs.close_all()
        session, self._session = self._session, None
        if session is not None:
            if self._transport == "stdio":
                # Polite first, then certain: SIGTERM every group, SIGKILL what is left after the grace.
                await self._registry.close(session)
            else:
                self._registry.detach(session)
        await self._http.aclose()

    async def _handle_line(self, line: bytes | str, routes: dict[str, _Route]) -> bool:
        """Handle one message; False means the connection must close."""
        try:
            message = parse_message(line)
        except JsonRpcError as exc:
            await self._peer.respond_error(
                -1,
                JsonRpcError(
                    INVALID_REQUEST,
                    f"failed to parse JSON-RPC message from exec-server {self._transport}: {exc.message}",
                ),
            )
            return True
        if isinstance(message, Notification):
            if message.method == p.INITIALIZED and self._state is _State.INITIALIZING:
                self._state = _State.READY
                return True
            log.warning("closing connection: unexpected notification %s", message.method)
            return False
        if not isinstance(message, Request):
            log.warning("closing connection: the client sent a response")
            return False
        try:
            result = await self._dispatch(message, routes)
        except JsonRpcError as exc:
            await self._peer.respond_error(message.id, exc)
            return True
        except Exception as exc:  # a handler bug must not take the executor down
            log.exception("handler for %s failed", message.method)
            await self._peer.respond_error(message.id, JsonRpcError(-32603, f"internal error: {exc}"))
            return True
        then = None
        if isinstance(result, AfterResponse):
            result, then = result.result, result.then
        try:
            line = encode_response(message.id, p.wire(result) if isinstance(result, BaseModel) else result)
        except (ValueError, TypeError) as exc:  # e.g. a file name that is not UTF-8: answered, not fatal
            text = printable(str(exc))
            log.error("cannot serialize the response to %s: %s", message.method, text)
            await self._peer.respond_error(
                message.id, JsonRpcError(-32603, f"failed to serialize the response: {text}")
            )
            return True
        await self._peer.send_line(line)
        preload.release()  # imports kept back while this was being answered
        if then is not None:
            then()
        return True

    async def _dispatch(self, request: Request, routes: dict[str, _Route]) -> Any:
        if request.method == p.INITIALIZE:
            params = decode_params(p.InitializeParams, request.params)
            if self._state is not _State.NEW:
                raise JsonRpcError(INVALID_REQUEST, "initialize may only be sent once per connection")
            assert self._registry is not None
            # Notifications of a resumed session flow only once this answer is written, so a
            # client never sees process events before it knows its initialize succeeded;
            # events in between are recorded and the client fetches them with process/read.
            session = await self._registry.attach(params.resume_session_id or None)
            self._session = session
            self._state = _State.INITIALIZING
            result = p.InitializeResult(session_id=session.id, environment_info=environment_info())
            return AfterResponse(result, lambda: session.connect(self._notify))
        route = routes.get(request.method)
        if route is None:
            raise JsonRpcError(METHOD_NOT_FOUND, f"exec-server stub does not implement `{request.method}` yet")
        if self._state is _State.NEW:
            raise JsonRpcError(INVALID_REQUEST, f"client must call initialize before using {route.family} methods")
        if self._state is _State.INITIALIZING:
            raise JsonRpcError(INVALID_REQUEST, f"client must send initialized before using {route.family} methods")
        params = decode_params(route.params, request.params) if route.params is not None else None
        return await route.handler(params)

