"""``rootstep mcp list|get|add|remove`` edits config.toml in place, comments kept."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rootstep.mcp.cli import run

ORIGINAL = """\
# my settings
model = "gpt-5"  # the model

[mcp_servers.keep]
# keep this one
command = "python3"
args = ["-V"]
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(ORIGINAL)
    return tmp_path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_add_stdio_and_http_keeps_comments_and_other_keys(home: Path):
    assert cli("add", "echo", "--env", "A=1", "--", "python3", "server.py", "--flag")[0] == 0
    assert cli("add", "web", "--url", "http://127.0.0.1:1/mcp", "--bearer-token-env-var", "TOK")[0] == 0
    text = (home / "config.toml").read_text()
    assert text.startswith(ORIGINAL)  # everything before is byte-for-byte intact
    import tomllib

    doc = tomllib.loads(text)
    assert doc["model"] == "gpt-5"
    assert doc["mcp_servers"]["echo"] == {"command": "python3", "args": ["server.py", "--flag"], "env": {"A": "1"}}
    assert doc["mcp_servers"]["web"] == {"url": "http://127.0.0.1:1/mcp", "bearer_token_env_var": "TOK"}


def test_list_get_remove(home: Path):
    cli("add", "echo", "--", "python3", "server.py")
    code, out, _ = cli("list")
    assert code == 0 and "echo  python3 server.py  enabled" in out and "keep  python3 -V  enabled" in out
    code, out, _ = cli("list", "--json")
    assert [row["name"] for row in json.loads(out)] == ["echo", "keep"]
    code, out, _ = cli("get", "echo", "--json")
    assert json.loads(out)["transport"] == {
        "type": "stdio", "command": "python3", "args": ["server.py"], "env": None, "env_vars": [], "cwd": None
    }
    assert cli("remove", "keep")[0] == 0
    text = (home / "config.toml").read_text()
    assert "# my settings" in text and "[mcp_servers.keep]" not in text and "[mcp_servers.echo]" in text
    code, _, err = cli("get", "keep")
    assert code == 1 and "No MCP server named 'keep' found." in err


def test_bad_input_is_refused_and_nothing_is_written(home: Path):
    before = (home / "config.toml").read_text()
    assert cli("add", "bad name", "--", "x")[0] == 1
    assert cli("add", "noop")[0] == 1
    code, _, err = cli("add", "both", "--url", "http://x", "--", "cmd")
    assert code == 1 and "either --url or a command" in err
    assert cli("add", "envhttp", "--url", "http://x", "--env", "A=1")[0] == 1
    assert (home / "config.toml").read_text() == before


def test_through_the_rootstep_command(home: Path):
    env = {"CODEX_HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "rootstep", "mcp", "add", "p", "--", "python3", "x.py"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "rootstep", "mcp", "list"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert "p  python3 x.py  enabled" in done.stdout
