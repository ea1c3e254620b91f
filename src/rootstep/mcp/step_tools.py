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

from rootstep.mcp.approval import DECLINED_NO_PROMPT, approval_mode_for, decline_reason
from rootstep.mcp.catalog import ToolCatalog
from rootstep.mcp.elicitation import ElicitationRouter
from rootstep.mcp.manager import ToolCallTimeout
from rootstep.mcp.output import FunctionOutput, function_call_output, item_result
from rootstep.mcp.runtime import McpRuntime
from rootstep.mcp.startup import describe_error
from rootstep.mcp.wire import McpToolCallProgress
from rootstep.protocol.items import McpToolCallError, McpToolCallItem, McpToolCallResult
from rootstep.tools import CallContext, FunctionCall, ItemSink, unsupported_call_output

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
        first: Mapping[str, Any] = exc.errors()[0] if exc.errors() else {}
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
        # Who to ask when a call needs approval: the thread's router (None: nobody, decline).
        self._elicitation = elicitation
        self._tools = catalog.model_tools()
        self._released = False

    def model_tools(self) -> list[dict[str, Any]]:
        return self._tools

    def handles(self, call: FunctionCall) -> bool:
        return not call.custom and self.catalog.route(call.namespace, call.name) is not None

    def context_items(self, history: Any) -> list[dict[str, Any]]:
        return []

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        return await self.run(call, ctx.items, thread_id=ctx.thread_id, turn_id=ctx.turn_id)

    async def run(self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str) -> FunctionOutput:
        """Approval, the call and its item (``sink``) for one model call of this step."""
        info = self.catalog.route(call.namespace, call.name)
        if info is None:
            return unsupported_call_output(call)
        try:
            arguments = parse_arguments(call.arguments)
        except ValueError as exc:
            # Like the reference: no item, the parse error as the output, no call made.
            return [
                {"type": "input_text", "text": "Wall time: 0.0000 seconds\nOutput:"},
                {"type": "input_text", "text": f"err: {exc}"},
            ]
        item = McpToolCallItem(
            id=call.call_id, server=info.server, tool=info.tool.name, arguments=arguments, plugin_id=info.plugin_id
        )
        await sink.started(item)
        started = time.monotonic()
        try:
            return await self._run_started(
                call, item, info, arguments, sink, started, thread_id=thread_id, turn_id=turn_id
            )
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
                    update={
                        "status": "failed",
                        "error": McpToolCallError(message=reason),
                        "duration_ms": int(elapsed * 1000),
                    }
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
                await emit(
                    McpToolCallProgress(thread_id=thread_id, turn_id=turn_id, item_id=call.call_id, message=text)
                )

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


class RequiredServersFailed(RuntimeError):
    """A ``required = true`` server did not start; the thread must not start either."""


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
