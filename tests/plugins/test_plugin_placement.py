"""Executor-plugin placement of MCP servers (mirrors codex-mcp ``plugin_config_tests.rs``)."""

from __future__ import annotations

import json

import pytest

from rootstep.config.mcp_servers import EnvVar, McpServerConfig, OAuthConfig
from rootstep.plugins import McpConfigError, PathUri, ServerParseError, parse_executor_plugin_mcp_config

ROOT = PathUri.from_native("/work/plugin-root")


def stdio(command: str, env_id: str, cwd: str, env_vars: tuple[EnvVar, ...] = ()) -> McpServerConfig:
    return McpServerConfig.model_validate(
        {"transport": {"type": "stdio", "command": command, "cwd": cwd, "env_vars": env_vars}, "environment_id": env_id}
    )


def test_environment_placement_forces_authority_and_defaults_null_cwd() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT,
        """{"$schema":"https://example.com/plugin-mcp.schema.json",
            "mcpServers":{"demo":{"command":"demo-mcp","environment_id":"local","cwd":null,
                                   "env_vars":["EXECUTOR_TOKEN", {"name":"OTHER_TOKEN"}]}}}""",
        "executor-1",
    )
    assert outcome.errors == ()
    assert outcome.servers == {
        "demo": stdio(
            "demo-mcp",
            "executor-1",
            "/work/plugin-root",
            (EnvVar(name="EXECUTOR_TOKEN", source="remote"), EnvVar(name="OTHER_TOKEN", source="remote")),
        )
    }


def test_relative_cwd_resolves_beneath_plugin_root() -> None:
    outcome = parse_executor_plugin_mcp_config(ROOT, '{"demo":{"command":"demo-mcp","cwd":"scripts"}}', "executor-1")
    assert outcome.servers == {"demo": stdio("demo-mcp", "executor-1", "/work/plugin-root/scripts")}


def test_file_uri_cwd_inside_root_is_accepted() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT, '{"demo":{"command":"x","cwd":"file:///work/plugin-root/bin"}}', "executor-1"
    )
    assert outcome.servers["demo"].transport.cwd == "/work/plugin-root/bin"


def test_foreign_windows_root_resolves_cwd_with_windows_separators() -> None:
    root = PathUri.parse("file:///C:/plugins/demo")
    outcome = parse_executor_plugin_mcp_config(root, '{"demo":{"command":"demo-mcp","cwd":"scripts"}}', "executor-1")
    assert outcome.servers == {"demo": stdio("demo-mcp", "executor-1", "C:\\plugins\\demo\\scripts")}


@pytest.mark.parametrize("cwd", ["../outside", "/etc", "file:///work/other"])
def test_cwd_that_escapes_the_package_is_rejected(cwd: str) -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT, json.dumps({"demo": {"command": "demo-mcp", "cwd": cwd}, "ok": {"command": "ok"}}), "executor-1"
    )
    assert outcome.errors == (
        ServerParseError("demo", f"cwd `{cwd}` must remain within plugin root `file:///work/plugin-root`"),
    )
    assert list(outcome.servers) == ["ok"]  # valid siblings survive


def test_command_is_not_rewritten() -> None:
    outcome = parse_executor_plugin_mcp_config(ROOT, '{"demo":{"command":"./bin/server"}}', "executor-1")
    assert outcome.servers["demo"].transport.command == "./bin/server"


def test_executor_plugin_rejects_orchestrator_env_vars() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT, '{"demo":{"command":"demo-mcp","env_vars":[{"name":"TOKEN","source":"local"}]}}', "executor-1"
    )
    assert outcome.servers == {}
    assert outcome.errors == (
        ServerParseError("demo", "env_vars entry `TOKEN` cannot use source `local` in an executor-owned plugin"),
    )


def test_remote_environment_rejects_http_env_references() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT,
        """{"bearer": {"url": "https://example.com/bearer", "bearer_token_env_var": "TOKEN"},
            "headers": {"url": "https://example.com/headers", "env_http_headers": {"Authorization": "TOKEN"}}}""",
        "executor-1",
    )
    assert outcome.servers == {}
    assert outcome.errors == (
        ServerParseError(
            "bearer",
            "`bearer_token_env_var` requires executor-side environment resolution for an executor-owned HTTP MCP",
        ),
        ServerParseError(
            "headers",
            "`env_http_headers` requires executor-side environment resolution for an executor-owned HTTP MCP",
        ),
    )


def test_local_environment_preserves_http_env_references() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT,
        '{"demo":{"url":"https://example.com/mcp","bearer_token_env_var":"TOKEN","env_http_headers":{"X-Account":"ACCOUNT_ID"}}}',
        "local",
    )
    transport = outcome.servers["demo"].transport
    assert transport.bearer_token_env_var == "TOKEN"
    assert transport.env_http_headers == (("X-Account", "ACCOUNT_ID"),)
    assert outcome.servers["demo"].environment_id == "local"


def test_local_environment_preserves_local_env_vars_and_rejects_remote() -> None:
    ok = parse_executor_plugin_mcp_config(
        ROOT, '{"demo":{"command":"demo-mcp","env_vars":["TOKEN",{"name":"OTHER","source":"local"}]}}', "local"
    )
    assert ok.servers["demo"].transport.env_vars == (EnvVar(name="TOKEN"), EnvVar(name="OTHER", source="local"))
    bad = parse_executor_plugin_mcp_config(
        ROOT, '{"demo":{"command":"demo-mcp","env_vars":[{"name":"TOKEN","source":"remote"}]}}', "local"
    )
    assert bad.errors == (
        ServerParseError("demo", "env_vars entry `TOKEN` cannot use source `remote` in a local environment"),
    )


def test_type_key_and_oauth_normalization() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT,
        '{"hosted":{"type":"http","url":"https://example.com/mcp","oauth":{"clientId":"client-id","callbackPort":9876}},'
        ' "odd":{"type":"carrier-pigeon","command":"x"}, "bare":{"url":"https://e/x","oauth":{"callbackPort":1}}}',
        "executor-1",
    )
    assert outcome.errors == ()
    assert outcome.servers["hosted"].transport.oauth == OAuthConfig(client_id="client-id")
    assert outcome.servers["odd"].is_stdio
    assert outcome.servers["bare"].transport.oauth is None  # empty oauth dropped


def test_servers_come_in_name_order_and_bad_ones_are_errors() -> None:
    outcome = parse_executor_plugin_mcp_config(
        ROOT, '{"zeta":{"command":"z"},"alpha":{"url":"https://a"},"Mid":5,"neither":{}}', "executor-1"
    )
    assert list(outcome.servers) == ["alpha", "zeta"]
    assert [e.name for e in outcome.errors] == ["Mid", "neither"]
    assert all("invalid transport" in e.message for e in outcome.errors)


@pytest.mark.parametrize("text", ["{not-json", "[1, 2]", '"servers"'])
def test_malformed_document_fails_as_a_whole(text: str) -> None:
    with pytest.raises(McpConfigError):
        parse_executor_plugin_mcp_config(ROOT, text, "executor-1")


def test_inline_object_accepts_both_shapes() -> None:
    bare = parse_executor_plugin_mcp_config(ROOT, {"a": {"command": "a"}}, "e")
    wrapped = parse_executor_plugin_mcp_config(ROOT, {"mcpServers": {"a": {"command": "a"}}}, "e")
    assert bare == wrapped
    assert list(bare.servers) == ["a"]
