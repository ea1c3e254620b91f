"""environments.toml: the accepted shapes, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootstep.config.environments_toml import (
    EnvironmentsTomlError,
    legacy_environments,
    load_environments_toml,
    parse_environments_toml,
)

GOOD = """\
default = "executor-1"
include_local = true

[[environments]]
id = "executor-1"
program = "/usr/bin/codex"
args = ["exec-server", "--listen", "stdio"]
cwd = "work"
initialize_timeout_sec = 1.5
[environments.env]
MCP_EXECUTOR_MARKER = "executor-only"

[[environments]]
id = "devbox"
url = "ws://127.0.0.1:4512"
connect_timeout_sec = 0.05
"""


def test_a_full_file(tmp_path: Path) -> None:
    (tmp_path / "environments.toml").write_text(GOOD)
    config = load_environments_toml(tmp_path)
    assert config.default == "executor-1" and config.include_local
    assert config.ids == ("local", "executor-1", "devbox")
    stdio, ws = config.environments
    assert stdio.kind == "stdio" and stdio.args == ("exec-server", "--listen", "stdio")
    assert stdio.env == (("MCP_EXECUTOR_MARKER", "executor-only"),)
    assert stdio.cwd == str(tmp_path / "work") and stdio.initialize_timeout_sec == 1.5
    assert ws.kind == "websocket" and ws.url == "ws://127.0.0.1:4512" and ws.connect_timeout_sec == 0.05


def test_defaults_and_none() -> None:
    assert parse_environments_toml("", "e.toml", "/h").default == "local"
    assert parse_environments_toml("include_local = false\n", "e.toml", "/h").default is None
    assert parse_environments_toml('default = "NONE"\n', "e.toml", "/h").default is None


def test_legacy_provider_without_a_file(tmp_path: Path) -> None:
    assert load_environments_toml(tmp_path, {}).ids == ("local",)
    assert load_environments_toml(tmp_path, {"CODEX_EXEC_SERVER_URL": "none"}).ids == ()
    remote = legacy_environments({"CODEX_EXEC_SERVER_URL": "ws://127.0.0.1:9"})
    assert remote.ids == ("remote",) and remote.default == "remote"


@pytest.mark.parametrize(
    ("text", "line", "field", "needle"),
    [
        ('[[environments]]\nid = "a"\nprogram = "p"\nurl = "ws://x:1"\n', 4, "environments[0].url",
         "exactly one of url or program"),
        ('[[environments]]\nid = "a"\n', 1, "environments[0]", "exactly one of url or program"),
        ('[[environments]]\nid = "local"\nprogram = "p"\n', 2, "environments[0].id", "is reserved"),
        ('[[environments]]\nid = "None"\nprogram = "p"\n', 2, "environments[0].id", "is reserved"),
        ('[[environments]]\nid = "a b"\nprogram = "p"\n', 2, "environments[0].id", "ASCII letters"),
        ('[[environments]]\nid = "' + "x" * 65 + '"\nprogram = "p"\n', 2, "environments[0].id", "at most 64"),
        ('[[environments]]\nid = "a"\nprogram = "p"\n\n[[environments]]\nid = "a"\nprogram = "q"\n', 6,
         "environments[1].id", "is duplicated"),
        ('[[environments]]\nid = "a"\nurl = "ws://x:1"\nargs = ["x"]\n', 4, "environments[0].args", "require program"),
        ('[[environments]]\nid = "a"\nprogram = "p"\nconnect_timeout_sec = 1\n', 4,
         "environments[0].connect_timeout_sec", "requires url"),
        ('[[environments]]\nid = "a"\nurl = "http://x:1"\n', 3, "environments[0].url", "ws://"),
        ('[[environments]]\nid = "a"\nprogram = "  "\n', 3, "environments[0].program", "non-empty"),
        ('[[environments]]\nid = "a"\nprogram = "p"\ncolour = "red"\n', 4, "environments[0].colour", "unknown field"),
        ('flavour = 1\n', 1, "flavour", "unknown field"),
        ('default = "ghost"\n', 1, "default", "is not configured"),
        ('include_local = false\ndefault = "local"\n', 2, "default", "is not configured"),
        ('include_local = "yes"\n', 1, "include_local", "boolean"),
    ],
)
def test_errors_name_file_line_and_field(text: str, line: int, field: str, needle: str) -> None:
    with pytest.raises(EnvironmentsTomlError) as err:
        parse_environments_toml(text, "/home/u/.codex/environments.toml", "/home/u/.codex")
    assert err.value.line == line and err.value.field == field and needle in err.value.message
    assert str(err.value).startswith(f"/home/u/.codex/environments.toml:{line}: `{field}`")


def test_syntax_errors_carry_the_line() -> None:
    with pytest.raises(EnvironmentsTomlError) as err:
        parse_environments_toml('include_local = true\nid = = 3\n', "e.toml", "/h")
    assert err.value.line == 2 and "invalid TOML" in str(err.value)
