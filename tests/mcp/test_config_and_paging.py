"""``[mcp_servers]`` parsing with per-server errors, and the pure request helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rootstep.config.mcp_servers import HttpTransport, StdioTransport, parse_mcp_servers
from rootstep.environments.env_policy import host_stdio_env
from rootstep.mcp.status import McpRequestError, http_origin, meta_with_thread, page_bounds
from rootstep.mcp.transports.factory import stdio_launch
from rootstep.mcp.transports.http import MissingBearerToken, request_headers
from rootstep.mcp.transports.local_stdio import parse_line


def test_a_bad_server_is_reported_and_the_others_survive():
    parsed = parse_mcp_servers(
        {
            "mcp_servers": {
                "good": {"command": "echo-server", "args": ["--x"], "env": {"A": "1"}, "tool_timeout_sec": 5},
                "web": {"url": "http://127.0.0.1:1/mcp", "bearer_token_env_var": "TOK"},
                "mixed": {"command": "x", "url": "http://y"},
                "neither": {"args": []},
                "bad name": {"command": "x"},
                "inline": {"url": "http://y", "bearer_token": "secret"},
                "notatable": 3,
            }
        }
    )
    assert sorted(parsed.servers) == ["good", "web"]
    assert isinstance(parsed.servers["good"].transport, StdioTransport)
    assert parsed.servers["good"].tool_timeout_sec == 5
    assert isinstance(parsed.servers["web"].transport, HttpTransport)
    assert "url is not supported for stdio" in parsed.errors["mixed"]
    assert "invalid transport" in parsed.errors["neither"]
    assert "must match pattern" in parsed.errors["bad name"]
    assert "bearer_token is not supported" in parsed.errors["inline"]
    assert "must be a table" in parsed.errors["notatable"]


def test_no_servers_table():
    assert parse_mcp_servers({}).servers == {}
    assert parse_mcp_servers({"mcp_servers": "x"}).errors


def test_page_bounds():
    assert page_bounds(5, None, None) == (0, 5)
    assert page_bounds(5, "2", 2) == (2, 4)
    assert page_bounds(5, "4", 10) == (4, 5)
    assert page_bounds(5, None, 0) == (0, 1)  # limit minimum is 1
    assert page_bounds(0, None, None) == (0, 0)
    with pytest.raises(McpRequestError, match="invalid cursor: abc"):
        page_bounds(5, "abc", None)
    with pytest.raises(McpRequestError, match="cursor 6 exceeds total MCP servers 5"):
        page_bounds(5, "6", None)


@given(st.integers(0, 50), st.integers(0, 60), st.one_of(st.none(), st.integers(0, 60)))
def test_paging_walks_every_name_once(total, _unused, limit):
    seen: list[int] = []
    cursor = None
    while True:
        start, end = page_bounds(total, cursor, limit)
        seen.extend(range(start, end))
        if end >= total:
            break
        cursor = str(end)
    assert seen == list(range(total))


def test_meta_gets_the_thread_id():
    assert meta_with_thread(None, "t") == {"threadId": "t"}
    assert meta_with_thread({"a": 1}, "t") == {"a": 1, "threadId": "t"}
    assert meta_with_thread([1], "t") == [1]


def test_http_origin_drops_credentials_and_path():
    parsed = parse_mcp_servers({"mcp_servers": {"w": {"url": "https://u:p@example.com:8443/mcp?q=1"},
                                                "s": {"command": "x"}}})
    assert http_origin(parsed.servers["w"]) == "https://example.com:8443"
    assert http_origin(parsed.servers["s"]) is None


def test_request_headers():
    parsed = parse_mcp_servers(
        {
            "mcp_servers": {
                "w": {
                    "url": "http://h/mcp",
                    "http_headers": {"X-Static": "1"},
                    "env_http_headers": {"X-From-Env": "HDR", "X-Blank": "BLANK", "X-Unset": "UNSET"},
                    "bearer_token_env_var": "TOK",
                }
            }
        }
    )
    transport = parsed.servers["w"].transport
    assert isinstance(transport, HttpTransport)
    headers = request_headers(transport, {"HDR": "v", "BLANK": "  ", "TOK": "secret"})
    assert headers == {"X-Static": "1", "X-From-Env": "v", "Authorization": "Bearer secret"}
    with pytest.raises(MissingBearerToken, match="TOK"):
        request_headers(transport, {})


def test_stdio_env_is_cleared_to_defaults_plus_named_plus_literal():
    parent = {"PATH": "/bin", "HOME": "/h", "SECRET": "s", "NAMED": "n", "LANG": "C"}
    env = host_stdio_env(["NAMED", "MISSING"], {"LIT": "1", "PATH": "/override"}, parent)
    assert env == {"PATH": "/override", "HOME": "/h", "LANG": "C", "NAMED": "n", "LIT": "1"}


def test_executor_launch_resolves_local_sources_here():
    parsed = parse_mcp_servers(
        {"mcp_servers": {"e": {"command": "srv", "env_vars": ["REMOTE1", {"name": "HOSTV", "source": "local"}],
                               "env": {"L": "1"}}}}
    )
    transport = parsed.servers["e"].transport
    assert isinstance(transport, StdioTransport)
    launch = stdio_launch(transport, {"HOSTV": "h", "REMOTE1": "not-read-here"})
    assert dict(launch.env) == {"L": "1", "HOSTV": "h"}
    assert launch.remote_env_vars == ("REMOTE1",)


def test_parse_line_turns_undecodable_responses_into_errors_for_their_request():
    message = parse_line(b'{"jsonrpc":"2.0","id":7,"result":{"x":"\xff"}}')
    assert not isinstance(message, Exception)
    error = message.message
    assert error.id == 7 and "not valid UTF-8" in error.error.message
    assert isinstance(parse_line(b"\xff\xfe junk"), Exception)
    assert isinstance(parse_line(b"{not json"), Exception)
    ok = parse_line(b'{"jsonrpc":"2.0","id":"a","result":{}}')
    assert not isinstance(ok, Exception) and ok.message.id == "a"
