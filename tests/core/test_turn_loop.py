"""The turn loop in-process: the StepTools seam, concurrency of calls, steer, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from rootstep.config import load_config
from rootstep.core.manager import SettingsOverrides, ThreadManager
from rootstep.protocol.base import wire
from rootstep.protocol.capabilities import SelectedCapabilityRoot
from rootstep.protocol.items import McpToolCallItem, McpToolCallResult
from rootstep.tools import CallContext, FunctionCall, StepTools, ThreadToolsContext
from tests.fixtures.mock_model import MockModel, assistant_text, function_call_response, write_config

pytestmark = pytest.mark.timeout(60)


ROOT = SelectedCapabilityRoot.create("r@1", "local", "/plugins/r")


class EchoTools:
    """A step snapshot exposing one namespaced tool; records what happened to it."""

    def __init__(self, log: list[str], step: int) -> None:
        self.log = log
        self.step = step

    def model_tools(self) -> list[dict[str, Any]]:
        return [{"type": "function", "name": "echo", "description": f"step {self.step}",
                 "parameters": {"type": "object", "properties": {}}}]

    def handles(self, call: FunctionCall) -> bool:
        return call.namespace == "mcp__echo"

    def context_items(self, history: Any) -> list[dict[str, Any]]:
        return []

    async def execute(self, call: FunctionCall, ctx: CallContext) -> str:
        sink = ctx.items
        item = McpToolCallItem(id=call.call_id, server="echo", tool=call.name, arguments=json.loads(call.arguments))
        await sink.started(item)
        self.log.append(f"execute {call.call_id} step {self.step}")
        done = item.model_copy(update={"status": "completed", "duration_ms": 0,
                                       "result": McpToolCallResult(content=[{"type": "text", "text": "echoed"}])})
        await sink.completed(done)
        return f"echo:{call.arguments}"

    async def aclose(self) -> None:
        self.log.append(f"aclose step {self.step}")


class EchoProvider:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.steps = 0

    async def capture_step(self) -> StepTools:
        self.steps += 1
        self.log.append(f"capture {self.steps}")
        return EchoTools(self.log, self.steps)

    async def aclose(self) -> None:
        self.log.append("provider closed")


async def _run(home: Path, factory: Any, body: Any) -> list[Any]:
    emitted: list[Any] = []

    async def emit(notification: Any) -> None:
        emitted.append(notification)

    manager = ThreadManager(load_config(home), emit=emit, tools_factory=factory)
    async with anyio.create_task_group() as group:
        await group.start(manager.run)
        await body(manager, emitted)
        group.cancel_scope.cancel()
    return emitted


async def _turn(manager: ThreadManager, thread: Any, prompt: str, emitted: list[Any]) -> Any:
    from rootstep.protocol.items import TextInput

    inputs = [TextInput(text=prompt)]
    turn = manager.start_turn(thread, inputs)
    manager.launch(thread, inputs)
    with anyio.fail_after(30):
        while not any(getattr(n, "METHOD", "") == "turn/completed" and n.turn.id == turn.id for n in emitted):
            await anyio.sleep(0.01)
    return turn


def test_step_tools_seam(tmp_path: Path) -> None:
    log: list[str] = []
    contexts: list[ThreadToolsContext] = []

    def factory(context: ThreadToolsContext) -> EchoProvider:
        contexts.append(context)
        return EchoProvider(log)

    with MockModel() as model:
        write_config(tmp_path, model)
        model.queue(
            function_call_response("c1", "echo", '{"m":1}', namespace="mcp__echo"),
            function_call_response("c2", "other", "{}", namespace="mcp__elsewhere"),
            assistant_text("all done"),
        )

        async def body(manager: ThreadManager, emitted: list[Any]) -> None:
            thread = manager.start_thread(SettingsOverrides(), selected_capability_roots=[ROOT])
            turn = await _turn(manager, thread, "use tools", emitted)
            assert turn.status == "completed"

        emitted = anyio.run(_run, tmp_path, factory, body)

        assert contexts[0].selected_roots == (ROOT,)
        # capture before every model request, aclose after each step; provider closed on unload
        assert log == ["capture 1", "execute c1 step 1", "aclose step 1", "capture 2", "aclose step 2",
                       "capture 3", "aclose step 3", "provider closed"]
        assert [r.body["tools"][0]["description"] for r in model.requests] == ["step 1", "step 2", "step 3"]
        second = model.requests[1]
        outputs = {o["call_id"]: o["output"] for o in second.items_of_type("function_call_output")}
        assert outputs == {"c1": 'echo:{"m":1}'}
        third = model.requests[2]
        outputs = {o["call_id"]: o["output"] for o in third.items_of_type("function_call_output")}
        assert outputs["c2"] == "unsupported call: mcp__elsewhereother"
        items = [wire(n)["item"] for n in emitted if getattr(n, "METHOD", "") == "item/completed"]
        assert [i["type"] for i in items] == ["userMessage", "mcpToolCall", "agentMessage"]
        assert items[1]["result"]["content"][0]["text"] == "echoed"


def test_calls_in_one_step_run_concurrently(tmp_path: Path) -> None:
    from tests.fixtures.mock_model import MockResponse, ev_completed, ev_function_call, ev_response_created

    class Gate:
        """Both calls must be inside execute at the same time, or neither finishes."""

        def __init__(self) -> None:
            self.inside = 0
            self.both = anyio.Event()

    gate = Gate()

    class Tools(EchoTools):
        async def execute(self, call: FunctionCall, ctx: CallContext) -> str:
            gate.inside += 1
            if gate.inside == 2:
                gate.both.set()
            with anyio.fail_after(10):
                await gate.both.wait()
            return call.call_id

    class Provider(EchoProvider):
        async def capture_step(self) -> StepTools:
            return Tools(self.log, 0)

    with MockModel() as model:
        write_config(tmp_path, model)
        model.queue(
            MockResponse([ev_response_created("r"), ev_function_call("a", "echo", "{}", namespace="mcp__echo"),
                          ev_function_call("b", "echo", "{}", namespace="mcp__echo", output_index=1),
                          ev_completed("r")]),
            assistant_text("ok"),
        )

        async def body(manager: ThreadManager, emitted: list[Any]) -> None:
            thread = manager.start_thread(SettingsOverrides())
            assert (await _turn(manager, thread, "two at once", emitted)).status == "completed"

        anyio.run(_run, tmp_path, lambda ctx: Provider([]), body)
        outputs = [o["output"] for o in model.requests[1].items_of_type("function_call_output")]
        assert outputs == ["a", "b"]
