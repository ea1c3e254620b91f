"""``requirements.toml``: parsing, identity matchers, and what they do to servers (spec §3.6, §5.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.config.requirements import (
    McpServerRequirement,
    RequirementsError,
    ValueMatcher,
    load_requirements,
    parse_requirements,
    requirements_path,
)


def stdio(command: str, *args: str) -> McpServerConfig:
    return McpServerConfig.from_toml({"command": command, "args": list(args)})


def http(url: str) -> McpServerConfig:
    return McpServerConfig.from_toml({"url": url})


PLUGIN_REQUIREMENTS = """
[plugins."selected-root".mcp_servers.allowed.identity]
command = "allowed-command"

[plugins."selected-root".mcp_servers.mismatched.identity]
command = "expected-command"
"""


def test_plugin_servers_are_gated_by_the_selected_root_id() -> None:
    req = parse_requirements(PLUGIN_REQUIREMENTS, source="/etc/codex/requirements.toml")
    servers = {"allowed": stdio("allowed-command"), "mismatched": stdio("wrong-command"),
               "unlisted": stdio("unlisted-command")}
    out = req.apply_to_plugin_servers("selected-root", servers)
    assert {n: s.enabled for n, s in out.items()} == {"allowed": True, "mismatched": False, "unlisted": False}
    assert out["mismatched"].disabled_reason == "requirements (/etc/codex/requirements.toml)"
    assert out["allowed"].disabled_reason is None
    # A plugin that is not listed at all has every server disabled (the plugins table exists).
    other = req.apply_to_plugin_servers("different-manifest-name", {"allowed": stdio("allowed-command")})
    assert not other["allowed"].enabled


def test_no_plugins_table_means_no_change_and_nonempty_top_level_list_is_ignored_for_plugins() -> None:
    req = parse_requirements('[mcp_servers.docs.identity]\ncommand = "docs"\n')
    servers = {"x": stdio("anything")}
    assert req.apply_to_plugin_servers("p", servers) == servers
    assert not req.apply_to_config_servers(servers)["x"].enabled
    assert req.apply_to_config_servers({"docs": stdio("docs")})["docs"].enabled


def test_empty_top_level_allow_list_disables_every_plugin_server() -> None:
    req = parse_requirements("[mcp_servers]\n")
    out = req.apply_to_plugin_servers("p", {"x": stdio("x")})
    assert not out["x"].enabled


def test_matcher_forms() -> None:
    req = parse_requirements(
        r"""
[mcp_servers.proxy.identity]
command = { executable = "company-cli", args = [
  { match = "exact", value = "mcp" },
  { match = "prefix", value = "--serv" },
  { match = "regex", expression = '^https://[a-z]+\.example\.com$' },
] }
[mcp_servers.remote.identity]
url = { match = "regex", expression = "https://(a|b)\\.example/mcp" }
[mcp_servers.exact.identity]
url = "https://exact.example/mcp"
"""
    )
    proxy = req.mcp_servers["proxy"]
    assert proxy.executable == "company-cli" and proxy.args[2] == ValueMatcher("regex", r"^https://[a-z]+\.example\.com$")
    assert proxy.matches(stdio("company-cli", "mcp", "--server", "https://abc.example.com"))
    assert not proxy.matches(stdio("company-cli", "mcp", "--server", "https://abc.example.com/x"))  # full match
    assert not proxy.matches(stdio("company-cli", "mcp", "--server"))  # arg count
    assert not proxy.matches(http("https://abc.example.com"))  # transport kind
    assert req.mcp_servers["remote"].matches(http("https://b.example/mcp"))
    assert not req.mcp_servers["remote"].matches(http("https://c.example/mcp"))
    assert req.mcp_servers["exact"] == McpServerRequirement(url="https://exact.example/mcp")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[mcp_servers.broken_rule.identity]\nurl = { match = "regex", expression = "[" }\n', "invalid regex `[`"),
        ('[plugins."p".mcp_servers.s.identity]\nurl = { match = "glob", value = "x" }\n', "unknown match kind"),
        ("[mcp_servers.s]\nfoo = 1\n", "missing `identity`"),
        ("not toml = = 1", "<unspecified>"),
    ],
)
def test_bad_requirements_name_the_server(text: str, fragment: str) -> None:
    with pytest.raises(RequirementsError, match=fragment.replace("[", r"\[")):
        parse_requirements(text)


def test_location_and_absent_file(tmp_path: Path) -> None:
    managed = {"CODEX_APP_SERVER_MANAGED_CONFIG_PATH": str(tmp_path / "managed_config.toml")}
    assert requirements_path(managed) == tmp_path / "requirements.toml"
    assert requirements_path({}) == Path("/etc/codex/requirements.toml")
    assert load_requirements(tmp_path / "requirements.toml").plugins is None
    (tmp_path / "requirements.toml").write_text(PLUGIN_REQUIREMENTS)
    loaded = load_requirements(tmp_path / "requirements.toml")
    assert loaded.source == str(tmp_path / "requirements.toml")
    assert set(loaded.plugins["selected-root"]) == {"allowed", "mismatched"}
