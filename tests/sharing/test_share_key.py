"""The sharing decision (pure): which threads may use one process for a server."""

from __future__ import annotations

from types import SimpleNamespace

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.mcp.shared_servers import share_key


def transports(environ: dict[str, str], cwd: str | None = "/w") -> SimpleNamespace:
    return SimpleNamespace(environ=environ, default_cwd=cwd)


def test_identical_server_environment_and_principal_share_a_key() -> None:
    config = McpServerConfig.from_toml({"command": "srv", "env_vars": ["TOKEN"], "shareable": True})
    a = share_key("s", config, 0, transports({"TOKEN": "x", "OTHER": "1"}))
    b = share_key("s", config, 0, transports({"TOKEN": "x", "OTHER": "2"}))  # unread variables don't matter
    assert a == b and hash(a) == hash(b)
    assert "x" not in repr(a)  # the key holds a digest, never the secret


def test_any_difference_is_another_key() -> None:
    config = McpServerConfig.from_toml({"command": "srv", "env_vars": ["TOKEN"], "shareable": True})
    base = share_key("s", config, 0, transports({"TOKEN": "x"}))
    assert share_key("s", config, 0, transports({"TOKEN": "y"})) != base  # another principal
    assert share_key("s", config, 0, transports({})) != base
    assert share_key("s", config, 1, transports({"TOKEN": "x"})) != base  # the environment reconnected
    assert share_key("t", config, 0, transports({"TOKEN": "x"})) != base  # another name (tokens, status)
    assert share_key("s", config, 0, transports({"TOKEN": "x"}, cwd="/v")) != base  # another folder
    other = McpServerConfig.from_toml({"command": "srv", "args": ["-v"], "env_vars": ["TOKEN"], "shareable": True})
    assert share_key("s", other, 0, transports({"TOKEN": "x"})) != base


def test_http_principal_is_the_bearer_and_header_variables() -> None:
    config = McpServerConfig.from_toml({"url": "http://h/mcp", "bearer_token_env_var": "BEARER",
                                        "env_http_headers": {"X-Team": "TEAM"}, "shareable": True})
    base = share_key("h", config, 0, transports({"BEARER": "a", "TEAM": "t"}))
    assert share_key("h", config, 0, transports({"BEARER": "b", "TEAM": "t"})) != base
    assert share_key("h", config, 0, transports({"BEARER": "a", "TEAM": "u"})) != base
    assert share_key("h", config, 0, transports({"BEARER": "a", "TEAM": "t"}, cwd="/v")) == base  # no folder


def test_shareable_is_parsed_and_defaults_to_false() -> None:
    assert McpServerConfig.from_toml({"command": "srv"}).shareable is False
    assert McpServerConfig.from_toml({"url": "http://h", "shareable": True}).shareable is True
