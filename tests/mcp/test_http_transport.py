"""Streamable HTTP servers on loopback (uvicorn), through the same manager and runtime."""

from __future__ import annotations

import pytest

from rootstep.config.mcp_servers import parse_mcp_servers
from rootstep.mcp.manager import ConnectionManager
from rootstep.mcp.status import call_server_tool, list_server_status
from rootstep.mcp.transports.factory import DefaultTransports
from rootstep.mcp.wire import ListMcpServerStatusParams, McpServerToolCallParams
from tests.fixtures.mcp_http_server import echo_http_server
from tests.fixtures.thread_mcp import mcp_for_tests

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def http_url():
    with echo_http_server(env={"HTTP_MARK": "over-http"}) as url:
        yield url


async def test_http_server_tools_and_calls(http_url, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("TEST_TOKEN", "s3cret")
    servers = parse_mcp_servers({"mcp_servers": {
        "web": {"url": http_url, "bearer_token_env_var": "TEST_TOKEN", "http_headers": {"X-Test": "1"}},
    }})
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        [connection] = (await manager.wait_ready()).values()
        assert connection.state == "ready", connection.error
        result = await manager.call_tool("web", "echo", {"message": "hello", "env_var": "HTTP_MARK"},
                                         meta={"threadId": "t9"})
        assert result.structured_content == {"echo": "ECHOING: hello", "env": "over-http", "threadId": "t9"}


async def test_missing_bearer_token_fails_that_server_only(http_url, monkeypatch):
    monkeypatch.delenv("ABSENT_TOKEN", raising=False)
    servers = parse_mcp_servers({"mcp_servers": {
        "web": {"url": http_url, "bearer_token_env_var": "ABSENT_TOKEN"},
        "open": {"url": http_url},
    }})
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        connections = await manager.wait_ready()
        assert connections["open"].state == "ready"
        assert connections["web"].state == "failed"
        assert "ABSENT_TOKEN" in connections["web"].error and "MCP startup failed" in connections["web"].error


async def test_unreachable_http_server_fails_with_a_reason():
    servers = parse_mcp_servers({"mcp_servers": {"gone": {"url": "http://127.0.0.1:9/mcp", "startup_timeout_sec": 5}}})
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        [connection] = (await manager.wait_ready()).values()
        assert connection.state == "failed"
        assert connection.error.startswith("MCP client for `gone` failed to start: MCP startup failed: ")


async def test_status_list_and_direct_call_over_http(http_url):
    servers = parse_mcp_servers({"mcp_servers": {"web": {"url": http_url}}})
    response = await list_server_status(servers, ListMcpServerStatusParams(), transports=DefaultTransports())
    [entry] = response.data
    assert entry.name == "web" and "echo" in entry.tools
    assert entry.server_info is not None and entry.server_info.name == "rootstep-echo"
    assert [r["uri"] for r in entry.resources] == ["memo://readme"]
    assert entry.http_origin == http_url.rsplit("/", 1)[0]
    async with mcp_for_tests("thread-h", servers) as provider:
        runtime = await provider.current_runtime()
        try:
            result = await call_server_tool(
                runtime,
                McpServerToolCallParams(thread_id="thread-h", server="web", tool="echo",
                                        arguments={"message": "direct"}),
            )
        finally:
            await runtime.release()
    assert result.structured_content == {"echo": "ECHOING: direct", "env": None, "threadId": "thread-h"}


async def test_http_proxy_settings_are_honoured(http_url, monkeypatch):
    for var in ("http_proxy", "https_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    servers = parse_mcp_servers({"mcp_servers": {"web": {"url": http_url, "startup_timeout_sec": 10}}})
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        [connection] = (await manager.wait_ready()).values()
        assert connection.state == "failed", "requests must go through the (dead) proxy"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with ConnectionManager(servers.servers, transports=DefaultTransports()) as manager:
        [connection] = (await manager.wait_ready()).values()
        assert connection.state == "ready", connection.error
