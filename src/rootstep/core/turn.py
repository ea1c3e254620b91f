"""The turn loop: model steps until the model answers without tool calls.

Each step captures the thread's tool snapshot (:class:`StepTools`), streams one Responses
request, surfaces items and deltas as notifications, runs the function calls the snapshot
handles (concurrently), feeds their outputs back and goes again. Steer input queued during a
step is added before the next request. The whole turn runs inside the active turn's cancel
scope, so ``turn/interrupt`` stops the in-flight HTTP request at once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any

import anyio
import anyio.lowlevel
from pydantic import BaseModel

from rootstep.core.ids import uuid7
from rootstep.core.thread import ActiveTurn, Thread
from rootstep.core.user_input import names_local_files, to_response_items, user_message
from rootstep.model.events import (
    Completed,
    FunctionCallDone,
    MessageDone,
    MessageStarted,
    ModelError,
    OtherItemDone,
    TextDelta,
)
from rootstep.model.request import ModelRequest
from rootstep.protocol.account import AccountRateLimitsUpdated, RateLimitSnapshot
from rootstep.protocol.base import wire
from rootstep.protocol.items import AgentMessageItem, ContextCompactionItem, UserMessageItem
from rootstep.protocol.notifications import (
    AgentMessageDelta,
    ErrorNotification,
    ItemCompleted,
    ItemStarted,
    ThreadStatusChanged,
    ThreadTokenUsageUpdated,
    TokenUsageBreakdown,
    TurnCompleted,
    TurnStarted,
    Warning,
)
from rootstep.protocol.thread import ThreadStatus, TurnError
from rootstep.tools import CallContext, FunctionCall, StepFinished, StepTools, unsupported_call_output

log = logging.getLogger(__name__)

COMPACT_PROMPT = (
    "Summarize the conversation so far for a continuation: the user's goals, what was done, "
    "decisions, open questions and anything needed to carry on. Be concise and factual."
)
SUMMARY_PREFIX = "Summary of the earlier conversation (the full history was compacted):\n"

DEFAULT_INSTRUCTIONS = (
    "You are rootstep, a coding agent. Answer concisely. Use the tools you are given when they help; "
    "never invent tool results."
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class TurnSink:
    """The :class:`ItemSink` of one running turn: notifications + rollout + turn.items."""

    def __init__(self, thread: Thread, active: ActiveTurn) -> None:
        self.thread = thread
        self.active = active
        self._started_ms: dict[str, int] = {}

    async def started(self, item: BaseModel) -> None:
        now = _now_ms()
        data = wire(item)
        # Items carry their own lifecycle times, as codex 0.169 stamps them.
        self._started_ms[str(data.get("id"))] = now
        data.update(startedAtMs=now, completedAtMs=None)
        await self.thread.emit(
            ItemStarted(item=data, thread_id=self.thread.id, turn_id=self.active.turn.id, started_at_ms=now)
        )

    async def completed(self, item: BaseModel) -> None:
        now = _now_ms()
        data = wire(item)
        data.update(startedAtMs=self._started_ms.pop(str(data.get("id")), now), completedAtMs=now)
        self.active.turn.items.append(data)
        self.thread.record("thread_item", {"turn_id": self.active.turn.id, "item": data})
        await self.thread.emit(
            ItemCompleted(item=data, thread_id=self.thread.id, turn_id=self.active.turn.id, completed_at_ms=now)
        )


def _usage_breakdown(usage: Any) -> TokenUsageBreakdown:
    return TokenUsageBreakdown(
        total_tokens=usage.total_tokens,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_output_tokens=usage.reasoning_output_tokens,
    )


def completed_summary(turn: Any) -> Any:
    """``turn/completed`` carries a summary, as codex 0.169: the final agent message only
    (every item already went out in ``item/completed``; a turn with large tool results would
    otherwise be sent twice)."""
    final = [i for i in turn.items if isinstance(i, dict) and i.get("type") == "agentMessage"][-1:]
    return turn.model_copy(update={"items": final, "items_view": "summary"})


def replayable(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History as request input. Requests use ``store: false``, so the API cannot look items
    up by id: ids are dropped (as Codex does), and reasoning items are kept only when they carry
    their ``encrypted_content`` (otherwise they cannot be replayed statelessly)."""
    out = []
    for item in history:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            continue
        if "id" in item and item.get("type") in ("message", "reasoning", "function_call"):
            item = {k: v for k, v in item.items() if k != "id"}
        out.append(item)
    return out


def output_format(schema: Any) -> dict[str, Any] | None:
    """``turn/start.outputSchema`` → the Responses ``text.format`` (strict JSON schema)."""
    if not isinstance(schema, dict):
        return None
    return {"format": {"type": "json_schema", "name": "codex_output_schema", "schema": schema, "strict": True}}


def _developer_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]}


# What the model is told about a turn the user interrupted (0.169's words).
TURN_ABORTED = (
    "<turn_aborted>\nThe user interrupted the previous turn on purpose. Any running unified exec processes may "
    "still be running in the background. If any tools/commands were aborted, they may have partially "
    "executed.\n</turn_aborted>"
)


def aborted_output(call: FunctionCall, seconds: float) -> str:
    """The output of a call the interrupt cut short, as 0.169 words it (its command tools say
    how long they ran in their own format; never less than 0.1 s)."""
    seconds = max(seconds, 0.1)
    if call.namespace is None and call.name in ("exec_command", "shell_command"):
        return f"Wall time: {seconds:.1f} seconds\naborted by user"
    return f"aborted by user after {seconds:.1f}s"


class TurnRunner:
    """Runs one turn of ``thread``; ``client`` is a :class:`rootstep.model.ResponsesClient`."""

    def __init__(self, thread: Thread, active: ActiveTurn, client: Any) -> None:
        self.thread = thread
        self.active = active
        self.client = client
        self.sink = TurnSink(thread, active)
        # What the model sees: the thread's history, or a review's own (see _review).
        self.history: list[dict[str, Any]] = thread.history
        self.instructions: str | None = None
        # In a review, the reviewer's messages are collected, not completed as items.
        self.review_texts: list[str] | None = None

    @property
    def turn_id(self) -> str:
        return self.active.turn.id

    async def _emit_user_message(self, inputs: list[Any], client_id: str | None = None) -> None:
        item = UserMessageItem(id=uuid7(), client_id=client_id, content=inputs)
        if not self.thread.preview:
            from rootstep.core.user_input import preview_text

            self.thread.preview = preview_text(inputs)
        if names_local_files(inputs):  # files the client named: read in a worker thread
            items = await anyio.to_thread.run_sync(to_response_items, inputs)
        else:
            items = to_response_items(inputs)
        for response_item in items:
            self._append_history(response_item)
        await self.sink.started(item)
        await self.sink.completed(item)

    def _append_history(self, item: dict[str, Any]) -> None:
        self.history.append(item)
        if self.history is self.thread.history:
            self.thread.record("response_item", item)

    def _request(self, tools: list[dict[str, Any]]) -> ModelRequest:
        settings = self.thread.settings
        prefix = [_developer_message(settings.developer_instructions)] if settings.developer_instructions else []
        mode_text = self.thread.collaboration.get("developer_instructions")
        if isinstance(mode_text, str) and mode_text.strip():
            # The collaboration mode the client chose (Plan / Default), as codex frames it.
            prefix.append(_developer_message(f"<collaboration_mode>{mode_text}</collaboration_mode>"))
        reasoning = None
        if settings.effort or settings.summary:
            reasoning = {k: v for k, v in (("effort", settings.effort), ("summary", settings.summary)) if v}
        return ModelRequest(
            model=settings.model,
            input=prefix + replayable(self.history),
            instructions=self.instructions or settings.base_instructions or DEFAULT_INSTRUCTIONS,
            tools=tools,
            parallel_tool_calls=False,
            prompt_cache_key=self.thread.id,
            reasoning=reasoning,
            text=output_format(self.active.output_schema),
            headers={"session-id": self.thread.id, "thread-id": self.thread.id, "x-client-request-id": self.thread.id},
        )

    async def run(self, inputs: list[Any]) -> None:
        """Run to completion; the outcome is written into ``active.turn`` (status, error)."""
        turn = self.active.turn
        try:
            with self.active.scope:
                if self.active.compact:
                    await self._compact()
                elif self.active.body is not None:
                    await self.active.body(self.sink, self._append_history)
                elif self.active.review is not None:
                    await self._review(self.active.review)
                else:
                    # What changed in the tools' context (permissions, environment, project
                    # instructions) goes before the turn's input, as 0.169 places it.
                    turn_started = getattr(self.thread.tools, "turn_started", None)
                    for item in await turn_started(turn.id, self.thread.history) if turn_started else []:
                        self._append_history(item)
                    await self._emit_user_message(inputs, self.active.client_user_message_id)
                    await self._loop()
                turn.status = "completed"
        except Exception as exc:  # noqa: BLE001 - any failure is the turn's failure, never the server's
            message = exc.message if isinstance(exc, ModelError) else f"turn failed: {exc}"
            if not isinstance(exc, ModelError):
                log.exception("thread %s turn %s failed", self.thread.id, turn.id)
            turn.status = "failed"
            turn.error = TurnError(message=message)
            # Like Codex: a usage update closes the failed sample; the error notification
            # follows the idle status, right before turn/completed (see run_turn).
            await self.thread.emit(
                ThreadTokenUsageUpdated(
                    thread_id=self.thread.id, turn_id=turn.id,
                    token_usage=self.thread.token_usage(TokenUsageBreakdown()),
                )
            )
        if self.active.scope.cancelled_caught or (self.active.interrupt_requested and turn.status != "completed"):
            turn.status = "interrupted"
            turn.error = None
            if self.active.runs_model:
                self._append_history(user_message([{"type": "input_text", "text": TURN_ABORTED}]))

    async def _review(self, request: Any) -> None:
        """A review: the reviewer works on a history of its own (the review prompt only) with
        the thread's tools; its answer is rendered, shown, and remembered by the thread."""
        from rootstep.core.review import REVIEW_INSTRUCTIONS, parent_history, render_review
        from rootstep.protocol.items import EnteredReviewModeItem, ExitedReviewModeItem

        entered = EnteredReviewModeItem(id=uuid7(), review=request.display)
        await self.sink.started(entered)
        await self.sink.completed(entered)
        prompt = [{"type": "text", "text": request.prompt, "text_elements": []}]
        item = UserMessageItem(id=uuid7(), content=prompt)
        await self.sink.started(item)
        await self.sink.completed(item)
        if not self.thread.preview:
            self.thread.preview = request.prompt
        self.history = [user_message([{"type": "input_text", "text": request.prompt}])]
        self.instructions = REVIEW_INSTRUCTIONS
        self.review_texts = []
        await self._loop()
        rendered = render_review(self.review_texts[-1] if self.review_texts else None)
        exited = ExitedReviewModeItem(id=uuid7(), review=rendered)
        await self.sink.started(exited)
        await self.sink.completed(exited)
        answer = AgentMessageItem(id=f"msg_{uuid7()}", text=rendered)
        await self.sink.started(answer)
        await self.sink.completed(answer)
        self.history = self.thread.history
        for entry in parent_history(request.display, rendered):
            self._append_history(entry)

    async def _compact(self) -> None:
        """One request asking the model to summarize; the summary replaces the history."""
        item = ContextCompactionItem(id=uuid7())
        await self.sink.started(item)
        prompt = self.thread.config.raw.get("compact_prompt") or COMPACT_PROMPT
        request = self._request([])
        request = replace(request, input=request.input + [user_message([{"type": "input_text", "text": prompt}])])
        summary: list[str] = []
        async for event in self.client.stream(request):
            if isinstance(event, MessageDone):
                summary.append(event.text)
            elif isinstance(event, Completed) and event.usage is not None:
                last = _usage_breakdown(event.usage)
                self.thread.total_usage = self.thread.total_usage + last
                await self.thread.emit(
                    ThreadTokenUsageUpdated(
                        thread_id=self.thread.id, turn_id=self.turn_id, token_usage=self.thread.token_usage(last)
                    )
                )
        text = SUMMARY_PREFIX + "\n".join(summary)
        self.thread.history = self.history = [user_message([{"type": "input_text", "text": text}])]
        self.thread.record("compacted", {"replacement_history": self.thread.history})
        await self.sink.completed(item)

    async def _loop(self) -> None:
        while True:
            tools = await self.thread.tools.capture_step()
            for item in tools.context_items(self.history):
                self._append_history(item)
            calls: list[FunctionCall] = []
            started = time.monotonic()
            try:
                await self._step(tools, calls)
                started = time.monotonic()
                outputs = await self._execute(tools, calls)
                # A call's prompt answered `cancel` (or turn/interrupt) while the calls were
                # returning: the outputs they returned give way to the aborted ones below.
                await anyio.lowlevel.checkpoint_if_cancelled()
                if isinstance(tools, StepFinished):
                    await tools.step_finished()
            except anyio.get_cancelled_exc_class():
                # Interrupted mid-call: every call still gets an output (the API needs one).
                for call in calls:
                    kind = "custom_tool_call_output" if call.custom else "function_call_output"
                    output = aborted_output(call, time.monotonic() - started)
                    self._append_history({"type": kind, "call_id": call.call_id, "output": output})
                raise
            finally:
                with anyio.CancelScope(shield=True):
                    await tools.aclose()
            for call, output in zip(calls, outputs, strict=True):
                kind = "custom_tool_call_output" if call.custom else "function_call_output"
                self._append_history({"type": kind, "call_id": call.call_id, "output": output})
            steered = False
            while self.active.steer_queue:
                await self._emit_user_message(self.active.steer_queue.pop(0))
                steered = True
            if not calls and not steered:
                return

    async def _step(self, tools: StepTools, calls: list[FunctionCall]) -> list[FunctionCall]:
        """One request; the calls the model asked for are appended to ``calls`` as they arrive."""
        streaming: dict[str, list[str]] = {}  # agent message item id -> deltas so far
        request = self._request(tools.model_tools())
        # turn/steer cancels this scope (not the turn's) to re-sample with the new input at once,
        # as codex 0.169 does; it is withdrawn as soon as the model has asked for a tool call.
        sample = anyio.CancelScope()
        try:
            with sample:
                self.active.sample_scope = sample
                async for event in self.client.stream(request):
                    if isinstance(event, MessageStarted):
                        if event.item_id not in streaming:
                            streaming[event.item_id] = []
                            await self.sink.started(AgentMessageItem(id=event.item_id, text=""))
                    elif isinstance(event, TextDelta):
                        if event.item_id not in streaming:
                            streaming[event.item_id] = []
                            await self.sink.started(AgentMessageItem(id=event.item_id, text=""))
                        streaming[event.item_id].append(event.delta)
                        if self.review_texts is None:  # a reviewer's raw answer is not streamed (0.169)
                            await self.thread.emit(
                                AgentMessageDelta(
                                    thread_id=self.thread.id, turn_id=self.turn_id, item_id=event.item_id,
                                    delta=event.delta,
                                )
                            )
                    elif isinstance(event, MessageDone) and self.review_texts is not None:
                        # A reviewer's answer is rendered once the review ends (see _review).
                        self._append_history(event.raw)
                        if streaming.pop(event.item_id, None) is None:
                            await self.sink.started(AgentMessageItem(id=event.item_id, text=event.text))
                        self.review_texts.append(event.text)
                    elif isinstance(event, MessageDone):
                        self._append_history(event.raw)
                        phase = event.raw.get("phase")
                        item = AgentMessageItem(
                            id=event.item_id, text=event.text, phase=phase if isinstance(phase, str) else None
                        )
                        if streaming.pop(event.item_id, None) is None:
                            await self.sink.started(item)
                        await self.sink.completed(item)
                    elif isinstance(event, FunctionCallDone):
                        # A requested call must get its output: from here on a steer waits
                        # for the step instead of preempting it.
                        self.active.sample_scope = None
                        self._append_history(event.raw)
                        calls.append(event.call)
                    elif isinstance(event, OtherItemDone):
                        self._append_history(event.raw)
                    elif isinstance(event, Completed):
                        if event.usage is not None:
                            last = _usage_breakdown(event.usage)
                            self.thread.total_usage = self.thread.total_usage + last
                            self.thread.record("token_usage", wire(self.thread.total_usage))
                            await self.thread.emit(
                                ThreadTokenUsageUpdated(
                                    thread_id=self.thread.id,
                                    turn_id=self.turn_id,
                                    token_usage=self.thread.token_usage(last),
                                )
                            )
                            await self.thread.emit(AccountRateLimitsUpdated(rate_limits=RateLimitSnapshot()))
        finally:
            self.active.sample_scope = None
            # Interrupted, preempted or failed mid-message: like Codex, the started item is not completed
            # (clients see the turn end instead), but what was streamed stays in the model's
            # history so a later turn knows what it had already said.
            for item_id, deltas in streaming.items():
                text = "".join(deltas)
                if text:
                    self._append_history(
                        {"type": "message", "role": "assistant", "id": item_id,
                         "content": [{"type": "output_text", "text": text}]}
                    )
        return calls

    def _interrupt_now(self) -> None:
        """A client answered ``cancel`` to a call's prompt: like 0.169, the turn is aborted at
        once, and every call of the step gets the aborted output (see :func:`aborted_output`)."""
        self.active.interrupt_requested = True
        self.active.scope.cancel()

    async def _execute(self, tools: StepTools, calls: list[FunctionCall]) -> list[Any]:
        outputs: list[Any] = [None] * len(calls)
        ctx = CallContext(
            thread_id=self.thread.id, turn_id=self.turn_id, items=self.sink, notify=self.thread.emit,
            interrupt=self._interrupt_now,
        )

        async def run_one(index: int, call: FunctionCall) -> None:
            if not tools.handles(call):
                outputs[index] = unsupported_call_output(call)
                return
            try:
                outputs[index] = await tools.execute(call, ctx)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:  # noqa: BLE001 - a tool failure is the model's to read
                log.warning("tool call %s failed: %s", call.name, exc)
                outputs[index] = f"tool call failed: {exc}"

        if len(calls) == 1:
            await run_one(0, calls[0])
        elif calls:
            async with anyio.create_task_group() as group:
                for index, call in enumerate(calls):
                    group.start_soon(run_one, index, call)
        return [o if isinstance(o, (str, list)) else json.dumps(o) for o in outputs]


async def run_turn(thread: Thread, active: ActiveTurn, inputs: list[Any], client: Any) -> None:
    """The turn task: started → loop → completed, whatever happens in between."""
    turn = active.turn
    turn.started_at = int(time.time())
    thread.record("turn_started", {"turn_id": turn.id, "started_at": turn.started_at})
    try:
        await thread.emit(ThreadStatusChanged(thread_id=thread.id, status=ThreadStatus.active()))
        await thread.emit(TurnStarted(thread_id=thread.id, turn=turn.model_copy(update={"items": []})))
        await TurnRunner(thread, active, client).run(inputs)
    finally:
        with anyio.CancelScope(shield=True):
            turn.completed_at = int(time.time())
            turn.duration_ms = int((time.monotonic() - active.started_mono) * 1000)
            if turn.status == "inProgress":
                turn.status = "interrupted"
            if active.runs_model:
                try:
                    turn_ended = getattr(thread.tools, "turn_ended", None)
                    if turn_ended is not None:
                        await turn_ended(turn.id, turn.status)
                except Exception:  # noqa: BLE001 - a tool source must not keep the turn from ending
                    log.exception("thread %s: turn-end hook failed", thread.id)
            thread.record(
                "turn_completed",
                {
                    "turn_id": turn.id,
                    "status": turn.status,
                    "error": wire(turn.error) if turn.error else None,
                    "completed_at": turn.completed_at,
                    "duration_ms": turn.duration_ms,
                },
            )
            thread.active = None
            if thread.persist_error is not None:
                message, thread.persist_error = thread.persist_error, None
                await thread.emit(Warning(message=f"could not save the thread: {message}", thread_id=thread.id))
            for callback in active.before_completed:
                try:
                    await callback()
                except Exception:  # noqa: BLE001
                    log.exception("interrupt responder failed")
            try:
                if not thread.ephemeral:
                    from rootstep.core.read_state import after_turn
                    from rootstep.protocol.thread_settings import ThreadReadStateChanged

                    thread.read_state = after_turn(thread.read_state, turn.id)
                    thread.record("settings", {"read_state": thread.read_state})
                    await thread.emit(ThreadReadStateChanged(thread_id=thread.id, read_state=thread.read_state))
                await thread.emit(ThreadStatusChanged(thread_id=thread.id, status=ThreadStatus.idle()))
                if turn.status == "failed" and turn.error is not None:
                    await thread.emit(
                        ErrorNotification(error=turn.error, will_retry=False, thread_id=thread.id, turn_id=turn.id)
                    )
                await thread.emit(TurnCompleted(thread_id=thread.id, turn=completed_summary(turn)))
            finally:
                active.done.set()
