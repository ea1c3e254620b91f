"""The child-environment algorithm and PathUri, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rootstep.environments.env_policy import child_env, host_stdio_env, matches_any, mcp_env_policy
from rootstep.jsonrpc.errors import JsonRpcError
from rootstep.protocol.exec_server import ExecEnvPolicy, path_to_uri, uri_to_path

PARENT = {"PATH": "/bin", "HOME": "/h", "API_KEY": "k", "MY_SECRET": "s", "GH_TOKEN": "t", "OTHER": "o", "lang": "x"}


def policy(inherit: str = "all", ignore: bool = False, exclude: list[str] | None = None,
           set_: dict[str, str] | None = None, only: list[str] | None = None) -> ExecEnvPolicy:
    return ExecEnvPolicy(inherit=inherit, ignore_default_excludes=ignore,  # type: ignore[arg-type]
                         exclude=exclude or [], set=set_ or {}, include_only=only or [])


def test_null_policy_is_exactly_the_overlay() -> None:
    assert child_env(None, {"A": "1"}, PARENT) == {"A": "1"}


def test_inherit_modes_and_default_excludes() -> None:
    assert child_env(policy("none"), {}, PARENT) == {}
    assert child_env(policy("core"), {}, PARENT) == {"PATH": "/bin", "HOME": "/h", "lang": "x"}
    assert child_env(policy("all"), {}, PARENT) == {"PATH": "/bin", "HOME": "/h", "OTHER": "o", "lang": "x"}
    assert child_env(policy("all", ignore=True), {}, PARENT) == PARENT


def test_exclude_set_include_only_and_overlay_order() -> None:
    result = child_env(policy("all", True, exclude=["o*"], set_={"NEW": "n", "OTHER": "again"},
                              only=["NEW", "OTHER", "P?TH"]), {"OVER": "v"}, PARENT)
    assert result == {"PATH": "/bin", "NEW": "n", "OTHER": "again", "OVER": "v"}


@given(st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(max_size=5)),
       st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(max_size=5)))
def test_overlay_always_wins(parent: dict[str, str], overlay: dict[str, str]) -> None:
    for inherit in ("all", "core", "none"):
        env = child_env(policy(inherit, only=["NOTHING_MATCHES_THIS"]), overlay, parent)
        assert env == overlay


@given(st.from_regex(r"[A-Za-z_]{1,10}", fullmatch=True))
def test_wildcards_are_case_insensitive(name: str) -> None:
    assert matches_any(name, ["*"]) and matches_any(name.upper(), [name.lower()])
    assert matches_any(name, ["?" * len(name)]) and not matches_any(name, ["?" * (len(name) + 1)])


def test_mcp_policy_and_host_env() -> None:
    assert mcp_env_policy([]).inherit == "core" and mcp_env_policy([]).include_only == []
    remote = mcp_env_policy(["MARK"])
    assert remote.inherit == "all" and remote.ignore_default_excludes
    assert remote.include_only[-1] == "MARK" and "PATH" in remote.include_only
    assert host_stdio_env(["OTHER"], {"L": "1"}, PARENT) == {"PATH": "/bin", "HOME": "/h", "OTHER": "o", "L": "1"}


@pytest.mark.parametrize(
    ("path", "uri"),
    [("/a b.txt", "file:///a%20b.txt"), ("/100%.txt", "file:///100%25.txt"), ("/q?.txt", "file:///q%3F.txt"),
     ("/x#y.txt", "file:///x%23y.txt"), ("/ü.txt", "file:///%C3%BC.txt"), ("/k[1]@x", "file:///k[1]@x")],
)
def test_path_uri_encoding(path: str, uri: str) -> None:
    assert path_to_uri(path) == uri and uri_to_path(uri) == path


@given(st.lists(st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                        min_size=1, max_size=8),
                min_size=1, max_size=4))
def test_path_uri_round_trip(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    assert uri_to_path(path_to_uri(path)) == path


def test_path_uri_errors_and_leniency() -> None:
    assert uri_to_path("file://localhost/etc/x") == "/etc/x" and uri_to_path("file:///a b") == "/a b"
    for bad, code_text in (("/etc/x", "relative URL without a base"),
                           ("http://h/x", "unsupported path URI scheme `http`")):
        with pytest.raises(JsonRpcError) as err:
            uri_to_path(bad)
        assert err.value.code == -32602 and code_text in err.value.message
