"""One MCP server connection: an owner task holding a transport and a ``ClientSession``.

The owner task enters the transport and the session (so their cancel scopes are entered and
left in one task), runs ``initialize`` + the full paginated ``tools/list`` within
``startup_timeout_sec``, publishes the result, then parks until the connection is closed or
the transport's read side ends (the server crashed or exited). Callers in other tasks send
requests through the session; the SDK fails every pending request with "connection closed"
the moment the read side ends, so a crash is an error, never a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.client.session import ClientSession, _later_revision_fields
from mcp.shared.dispatcher import CallOptions
from mcp.shared.inbound import MCP_NAME_HEADER, encode_header_value

from rootstep.config.mcp_servers import SERVER_NAME_RE, McpServerConfig
from rootstep.mcp.elicitation import ElicitationRouter
from rootstep.mcp.startup import (
    describe_error,
    login_required,
    not_logged_in_text,
    startup_failure_text,
)
from rootstep.mcp.telemetry import quiet_sdk_tracing_once
from rootstep.mcp.transports.factory import TransportFactory
from rootstep.mcp.transports.read_wrapper import ReadStreamWrapper

log = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="codex-mcp-client", title="Codex", version="0.169.0")
MAX_TOOL_PAGES = 1000

ConnectionState = Literal["starting", "ready", "failed", "cancelled"]


class _Session(ClientSession):
    """The SDK session, passing results through as the server sent them.

    The SDK re-validates ``structuredContent`` against the tool's output schema on every call
    (and lists tools again when it has not seen one); the reference Codex passes results
    through unchanged, so a server whose output drifts from its schema still works, and the
    call skips a JSON Schema validation on the hot path.
    """

    async def validate_tool_result(self, name: str, result: types.CallToolResult) -> None:
        return None

    async def call_tool(  # type: ignore[override]
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        read_timeout_seconds: float | None = None,
        progress_callback: Any = None,
        *,
        meta: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``tools/call`` with one validation of the result instead of three.

        The SDK's generic path builds and dumps a request model, validates the result against
        the negotiated revision, then again through a union adapter of every result shape.
        Sessions below the 2026-07-28 revision (no input-required results, no claims) can only
        get a ``CallToolResult``: the same request is sent through the same dispatcher, and
        the result is validated once, after dropping later revisions' fields as the SDK does.
        Everything else takes the SDK's own path.
        """
        later = _later_revision_fields("tools/call", self._negotiated_version or "")
        if kwargs or not later or self._active_claims:
            return await super().call_tool(
                name, arguments, read_timeout_seconds, progress_callback, meta=meta, **kwargs  # type: ignore[arg-type]
            )
        params: dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        if meta is not None:
            params["_meta"] = meta
        data: dict[str, Any] = {"method": "tools/call", "params": params}
        opts: CallOptions = {}
        self._stamp(data, opts)  # protocol-version (and any transport) headers, as the SDK sends
        opts.setdefault("headers", {}).setdefault(MCP_NAME_HEADER, encode_header_value(name))
        timeout = read_timeout_seconds if read_timeout_seconds is not None else self._session_read_timeout_seconds
        if timeout is not None:
            opts["timeout"] = timeout
        if progress_callback is not None:
            opts["on_progress"] = progress_callback
        raw = await self._dispatcher.send_raw_request("tools/call", data["params"], opts)
        if not later.isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in later}
        return types.CallToolResult.model_validate(raw, by_name=False)


class _WatchedReadStream(ReadStreamWrapper):
    """Delegates to the transport's read stream; flags the end of the stream (crash/exit)."""

    def __init__(self, inner: Any, *events: anyio.Event) -> None:
        super().__init__(inner)
        self._events = events

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            for event in self._events:
                event.set()
            raise


async def list_all_tools(session: ClientSession) -> list[types.Tool]:
    """Every page of ``tools/list`` (a repeated cursor ends the listing)."""
    tools: list[types.Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_TOOL_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None or cursor in seen:
            break
        seen.add(cursor)
    return tools


class McpConnection:
    """The state of one server connection, owned by :meth:`run`."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        transports: TransportFactory,
        on_settled: Callable[[McpConnection], Awaitable[None]] | None = None,
        elicitation: ElicitationRouter | None = None,
    ) -> None:
        self.name = name
        self._elicitation = elicitation
        self._on_settled = on_settled
        self.config = config
        self._transports = transports
        self.state: ConnectionState = "starting"
        self.error: str | None = None
        self.failure_reason: Literal["reauthenticationRequired"] | None = None
        self.login_required = False  # failed because the server needs an OAuth login
        self.session: ClientSession | None = None
        self.tools: tuple[types.Tool, ...] = ()
        self.initialize_result: types.InitializeResult | None = None
        self.settled = anyio.Event()  # ready, failed or cancelled
        self.finished = anyio.Event()  # the owner task has left (transport closed, child reaped)
        self._wake = anyio.Event()
        self._lost = anyio.Event()
        self._closing = False
        self.crashed = False
        # ``toolsError`` of status listings: the startup failure without the client prefix.
        self.tools_error: str | None = None
        self._scope = anyio.CancelScope()
        # tools/list_changed: a refresh of this server's tools runs in the owner's task group;
        # readers (the next step's catalog) wait for it through :meth:`tools_settled`.
        self._refresh_group: Any = None
        self._refresh_done: anyio.Event | None = None
        self._refresh_again = False
        self.tools_refreshes = 0

    @property
    def instructions(self) -> str | None:
        return self.initialize_result.instructions if self.initialize_result else None

    @property
    def server_info(self) -> types.Implementation | None:
        return self.initialize_result.server_info if self.initialize_result else None

    @property
    def lost(self) -> bool:
        """The transport ended under a ready session (the server exited or crashed)."""
        return self._lost.is_set() and not self._closing

    @property
    def usable(self) -> bool:
        """Ready, with a live session: requests can go out now."""
        return self.state == "ready" and self.session is not None and not self.lost

    def close(self) -> None:
        """Ask the owner task to shut the connection down (non-blocking)."""
        self._closing = True
        self._wake.set()
        if not self.settled.is_set():
            self._scope.cancel()  # still starting: stop waiting for the server

    async def run(self) -> None:
        """The owner task. Never raises: every failure becomes ``state``/``error``."""
        try:
            with self._scope:
                await self._run()
            if self._scope.cancelled_caught:
                await self._settle("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - failures are values at this boundary
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                await self._settle("cancelled", self.error)
                raise
            log.info("MCP server %s: %s", self.name, describe_error(exc))
            self.tools_error = f"MCP startup failed: {describe_error(exc)}"
            needs_login = login_required(exc)
            if needs_login is not None and self.error is None:
                self.error = not_logged_in_text(self.name)
                self.login_required = True
                self.failure_reason = "reauthenticationRequired" if needs_login.reauthentication else None
            await self._settle("failed", self.error or startup_failure_text(self.name, describe_error(exc)))
        finally:
            self.session = None
            if self.state == "ready":
                self.state = "cancelled" if self._closing else "failed"
            self.finished.set()

    # --- tools/list_changed --------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        """Session notifications: ``tools/list_changed`` refreshes this server's tools only."""
        if isinstance(message, types.ToolListChangedNotification):
            self.request_tools_refresh()

    def request_tools_refresh(self) -> None:
        """Re-list the tools in the background (coalesced); the next catalog waits for it."""
        group = self._refresh_group
        if group is None or self.session is None:
            return
        if self._refresh_done is not None and not self._refresh_done.is_set():
            self._refresh_again = True
            return
        self._refresh_done = anyio.Event()
        group.start_soon(self._refresh_tools, self._refresh_done)

    async def _refresh_tools(self, done: anyio.Event) -> None:
        try:
            while True:
                self._refresh_again = False
                session = self.session
                if session is None:
                    return
                try:
                    with anyio.fail_after(self.config.startup_timeout_sec):
                        tools = await list_all_tools(session)
                except Exception as exc:  # noqa: BLE001 - keep the previous tools
                    log.info("MCP server %s: refreshing tools failed: %s", self.name, describe_error(exc))
                    return
                self.tools = tuple(t for t in tools if self.config.tool_allowed(t.name))
                self.tools_refreshes += 1
                log.info("MCP server %s: tools refreshed after list_changed (%d tools)", self.name, len(self.tools))
                if not self._refresh_again:
                    return
        finally:
            done.set()

    async def tools_settled(self) -> None:
        """Wait for a tools refresh in flight (if any)."""
        done = self._refresh_done
        if done is not None:
            await done.wait()

    async def _settle(self, state: ConnectionState, error: str | None) -> None:
        """Publish the startup outcome; the status event goes out before anyone sees it."""
        if self.settled.is_set():
            return
        self.state, self.error = state, error
        if self._on_settled is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await self._on_settled(self)
                except Exception:  # noqa: BLE001
                    log.exception("startup status listener failed")
        self.settled.set()

    async def _run(self) -> None:
        if not SERVER_NAME_RE.match(self.name):
            raise ValueError(f"invalid server name '{self.name}': must match pattern ^[a-zA-Z0-9_-]+$")
        quiet_sdk_tracing_once()
        async with AsyncExitStack() as stack:
            slot = AsyncExitStack()  # the environment's start-up slot, held until ready or failed
            stack.push_async_callback(slot.aclose)
            await slot.enter_async_context(self._transports.start_slot(self.config))
            deadline = anyio.current_time() + self.config.startup_timeout_sec
            streams = await stack.enter_async_context(self._transports(self.name, self.config))
            read = _WatchedReadStream(streams[0], self._lost, self._wake)
            callback = self._elicitation.callback_for(self.name) if self._elicitation is not None else None
            session = await stack.enter_async_context(
                _Session(
                    read, streams[1], client_info=CLIENT_INFO,
                    elicitation_callback=callback, message_handler=self._on_message,  # type: ignore[arg-type]
                )
            )
            group = await stack.enter_async_context(anyio.create_task_group())
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    initialize = await session.initialize()
                    tools = await list_all_tools(session)
            except TimeoutError:
                seconds = self.config.startup_timeout_sec
                raise TimeoutError(f"request timed out after {seconds:g} seconds") from None
            if self._closing:
                await self._settle("cancelled", None)
                return
            await slot.aclose()
            self.initialize_result = initialize
            self.tools = tuple(t for t in tools if self.config.tool_allowed(t.name))
            self.session = session
            self._refresh_group = group
            await self._settle("ready", None)
            await self._wake.wait()
            self._refresh_group = None
            group.cancel_scope.cancel()
            if not self._closing or self._lost.is_set():
                self.crashed = True
                self.state = "failed"
                self.error = f"MCP server `{self.name}` exited or closed its connection"
                log.warning("%s", self.error)
