"""The turn seam (``rootstep.tools``) served by an :class:`McpRuntime` snapshot.

:class:`McpStepTools` is one step's view: the catalog computed once, the same runtime for
every call of the step. :class:`McpToolsProvider` holds a thread's current runtime, builds it
at the first step, swaps it at the next step after a refresh (``config/mcpServer/reload``)
and retires the old one, which closes once no step holds it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from rootstep.tools import FunctionCall, ItemSink, unsupported_call_output
from rootstep.mcp.approval import DECLINED_NO_PROMPT, approval_mode_for, decline_reason
from rootstep.config.mcp_servers import McpServersConfig
from rootstep.mcp.connection import ServerGone, StartupStatus, describe_error
from rootstep.mcp.elicitation import ElicitationRouter
from rootstep.mcp.manager import ToolCallTimeout
from rootstep.mcp.output import FunctionOutput, function_call_output, item_result
from rootstep.mcp.runtime import McpRuntime, ServerProvenance, ToolCatalog
from rootstep.mcp.transports.factory import TransportFactory
from rootstep.mcp.wire import McpServerStartupStatusUpdated, McpToolCallProgress
from rootstep.protocol.items import McpToolCallError, McpToolCallItem, McpToolCallResult

log = logging.getLogger(__name__)

Emit = Callable[[Any], Awaitable[None]]
# () -> (approval policy, sandbox mode) of the thread right now; None: no approval gating.
PolicyLookup = Callable[[], tuple[Any, str | None]]


def call_error_text(server: str, tool: str, exc: BaseException) -> str:
    """Why a call failed, in the reference's shape (``tool call failed for `s/t``` + cause);
    the model and the client read it."""
    if isinstance(exc, ToolCallTimeout):
        reason = f"timed out awaiting tools/call after {int(exc.seconds * 1000)}ms"
    elif isinstance(exc, MCPError) and exc.error.code == types.CONNECTION_CLOSED:
        reason = f"MCP server `{server}` closed the connection (it exited or crashed)"
    elif isinstance(exc, MCPError) and exc.error.code == types.PARSE_ERROR:
        reason = f"MCP server `{server}` sent an unreadable response: {exc.error.message}"
    elif isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        reason = f"MCP server `{server}` returned a malformed result for `{tool}`: {where}: {first.get('msg', exc)}"
    elif isinstance(exc, MCPError):
        reason = exc.error.message
    else:
        reason = describe_error(exc)
    return f"tool call error: tool call failed for `{server}/{tool}`\n\nCaused by:\n    {reason}"


def parse_arguments(raw: str) -> dict[str, Any] | None:
    """Empty → no arguments; otherwise a JSON object (ValueError on anything else)."""
    if not raw.strip():
        return None
    value = json.loads(raw)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


async def call_for_item(
    runtime: McpRuntime,
    server: str,
    tool: str,
    arguments: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    progress: Any = None,
) -> tuple[types.CallToolResult | None, str | None]:
    """Run one call; the result, or the error text (never raises except on cancellation)."""
    try:
        return await runtime.manager.call_tool(server, tool, arguments, meta=meta, progress=progress), None
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is a value for the model
        log.info("MCP call %s/%s failed: %s", server, tool, describe_error(exc))
        return None, call_error_text(server, tool, exc)


def router_of(manager: Any) -> ElicitationRouter | None:
    """The thread's elicitation router a manager was built with (a pooled manager's lives on
    its pool's transports factory)."""
    router = getattr(manager, "elicitation", None)
    if router is None:
        transports = getattr(getattr(manager, "pool", None), "transports", None)
        router = getattr(transports, "elicitation", None)
    return router if isinstance(router, ElicitationRouter) else None


INTERRUPTED_CALL = "tool call interrupted: the turn was interrupted before the server answered"


class McpStepTools:
    """One model step's captured MCP tools (implements ``StepTools``)."""

    def __init__(
        self,
        runtime: McpRuntime,
        catalog: ToolCatalog,
        emit: Emit | None = None,
        policy: PolicyLookup | None = None,
        elicitation: ElicitationRouter | None = None,
    ) -> None:
        self.runtime = runtime
        self.catalog = catalog
        self._emit = emit
        self._policy = policy
        # Who to ask when a call needs approval: the thread's router (the runtime's manager
        # carries it when the provider did not pass one).
        self._elicitation = elicitation if elicitation is not None else router_of(runtime.manager)
        self._tools = catalog.model_tools()
        self._released = False

    def model_tools(self) -> list[dict[str, Any]]:
        return self._tools

    def handles(self, call: FunctionCall) -> bool:
        return self.catalog.route(call.namespace, call.name) is not None

    async def execute(self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str) -> FunctionOutput:
        info = self.catalog.route(call.namespace, call.name)
        if info is None:
            return unsupported_call_output(call)
        try:
            arguments = parse_arguments(call.arguments)
        except ValueError as exc:
            # Like the reference: no item, the parse error as the output, no call made.
            return [{"type": "input_text", "text": "Wall time: 0.0000 seconds\nOutput:"}, {"type": "input_text", "text": f"err: {exc}"}]
        item = McpToolCallItem(
            id=call.call_id, server=info.server, tool=info.tool.name, arguments=arguments, plugin_id=info.plugin_id
        )
        await sink.started(item)
        started = time.monotonic()
        try:
            return await self._run_started(call, item, info, arguments, sink, started, thread_id=thread_id, turn_id=turn_id)
        except anyio.get_cancelled_exc_class():
            # Interrupted turn or unloaded thread mid-call: the client saw item/started, so it
            # gets the item's end too (failed, with why) before the cancellation goes on.
            elapsed = time.monotonic() - started
            aborted = item.model_copy(update={
                "status": "failed", "error": McpToolCallError(message=INTERRUPTED_CALL),
                "duration_ms": int(elapsed * 1000)})
            with anyio.CancelScope(shield=True):
                await sink.completed(aborted)
            raise

    async def _run_started(self, call: FunctionCall, item: McpToolCallItem, info: Any, arguments: Any,
                           sink: ItemSink, started: float, *, thread_id: str, turn_id: str) -> FunctionOutput:
        """Approval, the call and ``item/completed`` for an item already announced as started."""
        if self._policy is not None:
            approval_policy, sandbox_mode = self._policy()
            mode = approval_mode_for(self.runtime.servers.get(info.server), info.tool.name)
            reason = decline_reason(approval_policy, sandbox_mode, info.tool.annotations, mode)
            router = self._elicitation
            if reason == DECLINED_NO_PROMPT and router is not None and router.can_prompt:
                # on-request / untrusted: ask the client (mcpServer/elicitation/request).
                # A thread's "allow for this session" approvals are consulted first.
                reason = await router.approve_tool_call(
                    info.server, info.tool, arguments, turn_id=turn_id, call_id=call.call_id, approval_mode=mode,
                    connector_id=info.connector_id, selected_root=info.plugin_id is not None,
                )
            if reason is not None:
                elapsed = time.monotonic() - started
                done = item.model_copy(
                    update={"status": "failed", "error": McpToolCallError(message=reason), "duration_ms": int(elapsed * 1000)}
                )
                with anyio.CancelScope(shield=True):
                    await sink.completed(done)
                return [
                    {"type": "input_text", "text": f"Wall time: {elapsed:.4f} seconds\nOutput:"},
                    {"type": "input_text", "text": reason},
                ]
        meta: dict[str, Any] = {"threadId": thread_id, "x-codex-turn-metadata": {"turn_id": turn_id}}
        if info.plugin_id:
            meta["plugin_id"] = info.plugin_id
        emit = self._emit

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            if emit is not None:
                text = message or (f"{done:g}/{total:g}" if total else f"{done:g}")
                await emit(McpToolCallProgress(thread_id=thread_id, turn_id=turn_id, item_id=call.call_id, message=text))

        progress = on_progress if emit is not None else None
        result, error = await call_for_item(self.runtime, info.server, info.tool.name, arguments, meta, progress)
        elapsed = time.monotonic() - started
        done = item.model_copy(update={"duration_ms": int(elapsed * 1000)})
        if result is None:
            done = done.model_copy(update={"status": "failed", "error": McpToolCallError(message=error or "")})
        else:
            data = item_result(result)
            done = done.model_copy(
                update={
                    "status": "failed" if result.is_error else "completed",
                    "result": McpToolCallResult(
                        content=data["content"], structured_content=data["structuredContent"], meta=data["_meta"]
                    ),
                }
            )
        with anyio.CancelScope(shield=True):
            await sink.completed(done)
        if result is None:
            # The reference's shape for a failed call: the header and the error as input_text.
            return [
                {"type": "input_text", "text": f"Wall time: {elapsed:.4f} seconds\nOutput:"},
                {"type": "input_text", "text": error or "tool call error"},
            ]
        return function_call_output(result, elapsed)

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            await self.runtime.release()


ServersSource = Callable[[], McpServersConfig]


class RequiredServersFailed(RuntimeError):
    """A ``required = true`` server did not start; the thread must not start either."""


def required_servers(servers: McpServersConfig) -> list[str]:
    """Names of the enabled ``required = true`` servers, sorted."""
    return sorted(n for n, c in servers.servers.items() if c.enabled and c.required)


async def check_required_servers(runtime: McpRuntime, required: list[str]) -> None:
    """Wait for the required servers of ``runtime`` and raise when one did not start (thread
    start fails with ``required MCP servers failed to initialize: <name>: <error>; ...``)."""
    try:
        await runtime.manager.wait_ready(required)
        failures = []
        for name in required:
            connection = runtime.manager.connection(name)
            if connection is None:
                failures.append(f"{name}: required MCP server `{name}` was not initialized")
            elif connection.state != "ready":
                failures.append(f"{name}: {connection.error or connection.state}")
    finally:
        await runtime.release()
    if failures:
        raise RequiredServersFailed("required MCP servers failed to initialize: " + "; ".join(failures))


class McpToolsProvider:
    """A thread's MCP tools (implements ``StepToolsProvider``).

    ``servers`` gives the thread's server set; ``request_refresh`` swaps it in at the next
    step (spec §2.5: a reload applies at the start of the next turn's step).
    """

    def __init__(
        self,
        thread_id: str,
        servers: McpServersConfig,
        *,
        transports: TransportFactory,
        emit: Emit | None = None,
        provenance: Mapping[str, ServerProvenance] | None = None,
        policy: PolicyLookup | None = None,
        elicitation: ElicitationRouter | None = None,
    ) -> None:
        self.thread_id = thread_id
        self._policy = policy
        # One router for every runtime this thread builds: an old manager kept alive by an
        # in-flight call still reaches the client after a rebuild.
        self.elicitation = elicitation
        self._servers = servers
        self._transports = transports
        self._emit = emit
        self._provenance = dict(provenance or {})
        self._runtime: McpRuntime | None = None
        self._pending: McpServersConfig | None = None
        self._lock = anyio.Lock()
        self._closed = False

    @property
    def servers(self) -> McpServersConfig:
        return self._pending or self._servers

    @property
    def runtime(self) -> McpRuntime | None:
        """The latest published runtime (None before the first step)."""
        return self._runtime

    def request_refresh(
        self, servers: McpServersConfig, provenance: Mapping[str, ServerProvenance] | None = None
    ) -> None:
        """Use ``servers`` from the next step on (the running step keeps its snapshot).

        The same servers (and provenance) as the current runtime's are no change at all: the
        runtime and its processes are kept, so callers may publish their server set every step.
        """
        provenance = dict(provenance) if provenance is not None else self._provenance
        same = servers == self._servers and provenance == self._provenance
        if same and self._runtime is not None:
            self._pending = None
            return
        self._provenance = provenance
        self._pending = servers

    async def _on_status(self, status: StartupStatus) -> None:
        if self._emit is None:
            return
        await self._emit(
            McpServerStartupStatusUpdated(
                thread_id=self.thread_id, name=status.name, status=status.status, error=status.error,
                failure_reason=status.failure_reason,
            )
        )

    async def current_runtime(self) -> McpRuntime:
        """The runtime a step starting now would capture, acquired (``release()`` it)."""
        if self._closed:
            raise ServerGone("the thread's MCP runtime is closed")
        async with self._lock:
            if self._runtime is None or self._pending is not None:
                if self._pending is not None:
                    self._servers, self._pending = self._pending, None
                fresh = await McpRuntime.start(
                    self._servers.servers,
                    transports=self._transports,
                    on_status=self._on_status,
                    elicitation=self.elicitation,
                    provenance=self._provenance,
                    config_errors=self._servers.errors,
                )
                old, self._runtime = self._runtime, fresh
                if old is not None:
                    await old.retire()
            return self._runtime.acquire()

    async def prestart(self) -> None:
        """Start the servers now (thread start), like the reference; statuses follow at once."""
        if not self._servers.servers and not self._servers.errors:
            return
        runtime = await self.current_runtime()
        await runtime.release()

    async def validate_required_servers(self) -> None:
        """Start the runtime now if any server is ``required``; raise when one fails (thread
        start fails with ``required MCP servers failed to initialize: <name>: <error>; ...``)."""
        required = required_servers(self.servers)
        if required:
            await check_required_servers(await self.current_runtime(), required)

    async def capture_step(self) -> McpStepTools:
        runtime = await self.current_runtime()
        try:
            catalog = await runtime.catalog()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await runtime.release()
            raise
        return McpStepTools(runtime, catalog, self._emit, self._policy, self.elicitation)

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.retire()
