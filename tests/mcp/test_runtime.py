"""Runtime snapshots through the turn seam: steps, calls, reload, status listing, direct calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from rootstep.config.mcp_servers import McpServersConfig, parse_mcp_servers
from rootstep.mcp.status import McpRequestError, call_server_tool, list_server_status
from rootstep.mcp.transports.factory import DefaultTransports
from rootstep.mcp.wire import ListMcpServerStatusParams, McpServerToolCallParams
from rootstep.tools import FunctionCall
from tests.fixtures.mcp_helpers import ECHO_SERVER, alive, read_pids
from tests.fixtures.thread_mcp import mcp_for_tests

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90), pytest.mark.usefixtures("no_leaks")]


def servers(tmp_path: Path, **extra_servers: dict[str, Any]) -> McpServersConfig:
    import sys

    table: dict[str, Any] = {
        "echo": {"command": sys.executable, "args": [ECHO_SERVER],
                 "env": {"MCP_TEST_PID_FILE": str(tmp_path / "echo.pids"), "MARK": "marked"}, "tool_timeout_sec": 20},
    }
    table.update(extra_servers)
    return parse_mcp_servers({"mcp_servers": table})


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def started(self, item: BaseModel) -> None:
        self.events.append(("started", item.model_dump(mode="json", by_alias=True)))

    async def completed(self, item: BaseModel) -> None:
        self.events.append(("completed", item.model_dump(mode="json", by_alias=True)))


class Notifications:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, notification: BaseModel) -> None:
        self.seen.append({"method": type(notification).METHOD, **notification.model_dump(mode="json", by_alias=True)})


def call(name: str, args: Any, namespace: str = "mcp__echo", call_id: str = "call-1") -> FunctionCall:
    return FunctionCall(call_id=call_id, name=name, namespace=namespace,
                        arguments=json.dumps(args) if args is not None else "")


async def test_a_step_sees_namespaced_tools_and_its_call_becomes_output_and_items(tmp_path):
    notes = Notifications()
    async with mcp_for_tests("thr-1", servers(tmp_path), emit=notes) as provider:
        step = await provider.capture_step()
        [namespace] = step.model_tools()
        assert namespace["type"] == "namespace" and namespace["name"] == "mcp__echo"
        assert namespace["description"].startswith("Echo server for rootstep tests")
        echo = next(t for t in namespace["tools"] if t["name"] == "echo")
        assert echo["parameters"]["required"] == ["message"] and echo["strict"] is False
        assert step.handles(call("echo", {}))
        assert not step.handles(call("echo", {}, namespace="mcp__other"))
        sink = Sink()
        output = await step.execute(call("echo", {"message": "hello", "env_var": "MARK"}), sink,
                                    thread_id="thr-1", turn_id="turn-1")
        assert isinstance(output, str) and output.startswith("Wall time: ")
        assert output.endswith('Output:\n{"echo":"ECHOING: hello","env":"marked","threadId":"thr-1"}')
        (kind1, started), (kind2, completed) = sink.events
        assert (kind1, kind2) == ("started", "completed")
        assert started["status"] == "inProgress" and started["result"] is None and started["server"] == "echo"
        assert completed["status"] == "completed" and completed["durationMs"] is not None
        assert completed["result"]["structuredContent"]["echo"] == "ECHOING: hello"
        assert completed["id"] == "call-1" and completed["arguments"] == {"message": "hello", "env_var": "MARK"}
        await step.aclose()
    statuses = [(n["name"], n["status"]) for n in notes.seen if n["method"] == "mcpServer/startupStatus/updated"]
    assert statuses == [("echo", "starting"), ("echo", "ready")]
    assert all(n["threadId"] == "thr-1" for n in notes.seen)


async def test_call_failures_reach_the_model_as_error_output(tmp_path):
    async with mcp_for_tests("thr-2", servers(tmp_path)) as provider:
        step = await provider.capture_step()
        sink = Sink()
        out = await step.execute(call("fail", {}), sink, thread_id="t", turn_id="u")
        assert out[1] == {"type": "input_text", "text": "this tool always fails"}
        assert sink.events[-1][1]["status"] == "failed"
        out = await step.execute(call("echo", "{not json"), Sink(), thread_id="t", turn_id="u")
        assert out[1]["text"].startswith("err: arguments must be a JSON object")
        bad = FunctionCall(call_id="c", name="echo", namespace="mcp__echo", arguments="{nope")
        sink = Sink()
        out = await step.execute(bad, sink, thread_id="t", turn_id="u")
        assert out[0]["text"].startswith("Wall time: ") and out[1]["text"].startswith("err: Expecting property name")
        assert sink.events == []  # no item for a call that never ran
        sink = Sink()
        with anyio.fail_after(15):
            out = await step.execute(call("crash", {}), sink, thread_id="t", turn_id="u")
        assert out[1]["text"].startswith("tool call error: tool call failed for `echo/crash`\n\nCaused by:\n")
        assert "MCP server `echo` closed the connection" in out[1]["text"]
        assert sink.events[-1][1]["status"] == "failed"
        assert sink.events[-1][1]["error"]["message"].startswith("tool call error:")
        await step.aclose()
        # the next step can use the server again
        step = await provider.capture_step()
        out = await step.execute(call("echo", {"message": "back"}), Sink(), thread_id="t", turn_id="u")
        assert "ECHOING: back" in out
        await step.aclose()


async def test_same_runtime_across_steps_and_reload_swaps_it_at_the_next_step(tmp_path):
    """A reload publishes a new runtime at the next step; the in-flight step keeps its own.
    Beyond the reference, a server whose config did not change keeps its process."""
    pids = tmp_path / "echo.pids"
    async with mcp_for_tests("thr-3", servers(tmp_path)) as provider:
        step1 = await provider.capture_step()
        await step1.aclose()
        step2 = await provider.capture_step()
        [pid] = read_pids(pids)  # same process for both steps
        assert step2.runtime is step1.runtime
        # reload adds a server; the in-flight step keeps its snapshot and its server
        import sys

        provider.request_refresh(servers(tmp_path, probe={"command": sys.executable, "args": [ECHO_SERVER],
                                                          "env": {"MCP_TEST_PID_FILE": str(tmp_path / "probe.pids")}}))
        out = await step2.execute(call("echo", {"message": "old step"}), Sink(), thread_id="t", turn_id="u")
        assert "ECHOING: old step" in out
        assert [t["name"] for t in step2.model_tools()] == ["mcp__echo"]
        step3 = await provider.capture_step()
        assert step3.runtime is not step2.runtime
        assert [t["name"] for t in step3.model_tools()] == ["mcp__echo", "mcp__probe"]
        assert alive(pid), "the old runtime lives while a step holds it"
        await step2.aclose()
        assert alive(pid) and read_pids(pids) == [pid], "the unchanged server kept its process"
        out = await step3.execute(call("echo", {"message": "probe"}, namespace="mcp__probe"), Sink(),
                                  thread_id="t", turn_id="u")
        assert "ECHOING: probe" in out
        await step3.aclose()
    assert not any(alive(p) for p in read_pids(pids) + read_pids(tmp_path / "probe.pids"))


async def test_status_list_pages_sorted_names_with_failures_and_disabled(tmp_path):
    import sys

    config = servers(
        tmp_path,
        b_off={"command": sys.executable, "args": [ECHO_SERVER], "enabled": False},
        c_missing={"command": str(tmp_path / "missing")},
        d_bad={"command": "x", "url": "http://y"},
    )
    params = ListMcpServerStatusParams(limit=2)
    first = await list_server_status(config, params, transports=DefaultTransports())
    assert [e.name for e in first.data] == ["b_off", "c_missing"] and first.next_cursor == "2"
    off, missing = first.data
    assert off.tools == {} and off.runtime_status is None and off.auth_status == "unsupported"  # no thread: no runtime
    assert missing.tools == {} and missing.tools_error == "MCP startup failed: No such file or directory (os error 2)"
    second = await list_server_status(config, ListMcpServerStatusParams(cursor="2", limit=2, detail="toolsAndAuthOnly"),
                                      transports=DefaultTransports())
    assert [e.name for e in second.data] == ["d_bad", "echo"] and second.next_cursor is None
    bad, echo = second.data
    assert "not supported for stdio" in (bad.tools_error or "")
    assert echo.tools["echo"]["inputSchema"]["required"] == ["message"]
    assert echo.tools["echo"]["annotations"] == {"readOnlyHint": True}
    assert echo.resources == []  # toolsAndAuthOnly skips resources
    assert echo.server_info is not None and echo.server_info.name == "rootstep-echo"
    full = await list_server_status(config, ListMcpServerStatusParams(server_name="echo"),
                                    transports=DefaultTransports())
    assert [e.name for e in full.data] == ["echo"] and full.data[0].resource_templates[0]["uriTemplate"] == "memo://{name}"
    with pytest.raises(McpRequestError, match="invalid cursor: x"):
        await list_server_status(config, ListMcpServerStatusParams(cursor="x"), transports=DefaultTransports())


async def test_direct_tool_call_semantics(tmp_path):
    config = servers(tmp_path)
    config.servers["echo"] = config.servers["echo"].model_copy(update={"disabled_tools": ("slow",)})
    async with mcp_for_tests("thr-d", config) as provider:
        runtime = await provider.current_runtime()
        try:
            def params(**kw: Any) -> McpServerToolCallParams:
                return McpServerToolCallParams.model_validate(
                    {"threadId": "thr-d", "server": "echo", "tool": "echo", **kw})

            result = await call_server_tool(
                runtime, params(arguments={"message": "direct", "env_var": "MARK"}, _meta={"k": 1}))
            assert result.model_dump(by_alias=True, exclude_none=True) == {
                "content": [{"type": "text", "text": "ECHOING: direct"}],
                "structuredContent": {"echo": "ECHOING: direct", "env": "marked", "threadId": "thr-d"},
                "isError": False,
            }
            with pytest.raises(McpRequestError, match="unknown MCP server 'nope'"):
                await call_server_tool(runtime, params(server="nope"))
            with pytest.raises(McpRequestError, match="tool 'slow' is disabled for MCP server 'echo'"):
                await call_server_tool(runtime, params(tool="slow"))
            result = await call_server_tool(runtime, params(tool="fail"))
            assert result.is_error is True
        finally:
            await runtime.release()


async def test_progress_notifications_of_a_call_become_item_progress(tmp_path):
    notes = Notifications()
    async with mcp_for_tests("thr-p", servers(tmp_path), emit=notes) as provider:
        step = await provider.capture_step()
        out = await step.execute(call("progress", {"steps": 3}, call_id="call-p"), Sink(),
                                 thread_id="thr-p", turn_id="turn-p")
        assert out[1]["text"] == "3 steps done"
        await step.aclose()
    progress = [n for n in notes.seen if n["method"] == "item/mcpToolCall/progress"]
    assert [n["message"] for n in progress] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert all((n["threadId"], n["turnId"], n["itemId"]) == ("thr-p", "turn-p", "call-p") for n in progress)


async def test_a_slow_call_returns_a_timeout_error_to_the_model_within_the_timeout(tmp_path):
    config = servers(tmp_path)
    config.servers["echo"] = config.servers["echo"].model_copy(update={"tool_timeout_sec": 0.5})
    async with mcp_for_tests("thr-t", config) as provider:
        step = await provider.capture_step()
        sink = Sink()
        with anyio.fail_after(10):
            out = await step.execute(call("slow", {"seconds": 60}), sink, thread_id="t", turn_id="u")
        assert out[1]["text"] == ("tool call error: tool call failed for `echo/slow`\n\nCaused by:\n"
                                  "    timed out awaiting tools/call after 500ms")
        assert sink.events[-1][1]["status"] == "failed" and sink.events[-1][1]["result"] is None
        out = await step.execute(call("echo", {"message": "next"}), Sink(), thread_id="t", turn_id="u")
        assert "ECHOING: next" in out
        await step.aclose()


async def test_publishing_the_same_servers_keeps_the_runtime_and_its_processes(tmp_path):
    config = servers(tmp_path)
    async with mcp_for_tests("thr-s", config) as provider:
        step1 = await provider.capture_step()
        await step1.aclose()
        provider.request_refresh(servers(tmp_path))  # equal value, new object
        step2 = await provider.capture_step()
        assert step2.runtime is step1.runtime
        await step2.aclose()
        assert len(read_pids(tmp_path / "echo.pids")) == 1
