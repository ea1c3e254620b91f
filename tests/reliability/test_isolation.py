"""Isolation between threads, roots and environments.

* A thread cannot see, call or log in to a server of a root it did not select — even when two
  roots declare a server of the same name, each thread reaches its own root's process.
* A plugin manifest cannot point outside its root (``..``, an absolute path, a symlink that
  leaves the root): the declaration is ignored and the root's own ``.mcp.json`` is used.
* Environment values not named in ``env_vars`` never reach an MCP server — neither the
  app-server's nor the executor's: the whole environment of the server process is checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import live_children
from tests.fixtures.mock_model import MockModel, write_config
from tests.selected_roots.helpers import CONNECTED, MARKER, MARKER_VALUE, ROOTSTEP_EXECUTOR, root, write_environments

pytestmark = pytest.mark.timeout(180)

ENV_SERVER = str(Path(__file__).resolve().parent / "env_server.py")
# The pass-through defaults of spec §10.3 (plus LC_CTYPE, which Python's own UTF-8 locale
# coercion may set inside the server process).
DEFAULT_VARS = {"HOME", "LOGNAME", "PATH", "SHELL", "USER", "__CF_USER_TEXT_ENCODING", "LANG", "LC_ALL", "TERM",
                "TMPDIR", "TZ", "LC_CTYPE"}
HOST_SECRET = "ROOTSTEP_TEST_HOST_SECRET"
EXECUTOR_SECRET = "ROOTSTEP_TEST_EXECUTOR_SECRET"


def env_server(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [ENV_SERVER], **extra}


def write_root(
    path: Path, manifest: dict[str, Any], servers: dict[str, Any], files: dict[str, str] | None = None
) -> Path:
    (path / ".codex-plugin").mkdir(parents=True)
    (path / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
    (path / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    for rel, text in (files or {}).items():
        (path / rel).write_text(text)
    return path


def server_env(app: AppServerProcess, thread_id: str, server: str) -> dict[str, str]:
    result = app.call("mcpServer/tool/call", {"threadId": thread_id, "server": server, "tool": "environ",
                                              "arguments": {}}, timeout=60)
    return result["structuredContent"]["env"]


def names(app: AppServerProcess, thread_id: str | None) -> set[str]:
    params = {"threadId": thread_id} if thread_id else {}
    return {entry["name"] for entry in app.call("mcpServerStatus/list", params, timeout=60)["data"]}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One app-server for the module: a local config server and an executor (with a secret in
    its env). Each test selects its own roots on its own threads."""
    with MockModel() as model:
        yield from _running(tmp_path_factory.mktemp("isolation") / "home", model)


def _running(home: Path, model: MockModel) -> Any:
    write_config(home, model, extra=(
        f"\n[mcp_servers.host_env]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(ENV_SERVER)}]\n"
        'env_vars = ["ROOTSTEP_TEST_ALLOWED"]\nenv = { LITERAL = "lit" }\n'
        "enabled = false\n"))  # only the env test's thread turns it on (fewer processes to start)
    write_environments(home, ROOTSTEP_EXECUTOR, extra=f'{EXECUTOR_SECRET} = "executor-secret"\n')
    before = live_children()
    env = {"ROOTSTEP_LOG": "INFO", HOST_SECRET: "host-secret", "ROOTSTEP_TEST_ALLOWED": "allowed",
           "OPENAI_API_KEY": "sk-never-forwarded"}
    with AppServerProcess(home, env=env) as app:
        app.initialize()
        yield app
        app.assert_schema_clean()
        assert app.close(timeout=60) == 0
    assert live_children() - before == set()


def test_a_thread_reaches_only_the_roots_it_selected(tmp_path: Path, running: AppServerProcess) -> None:
    app = running
    one = write_root(tmp_path / "one", {"name": "one"}, {"shared": env_server(env={"WHO": "one"}),
                                                         "only_one": env_server()})
    two = write_root(tmp_path / "two", {"name": "two"}, {"shared": env_server(env={"WHO": "two"})})
    first = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
        root("one@1", "executor-1", one)]})["thread"]["id"]
    second = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
        root("two@1", "executor-1", two)]})["thread"]["id"]
    plain = app.call("thread/start", {"model": "mock-model"})["thread"]["id"]
    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)

    assert {"shared", "only_one"} <= names(app, first)
    assert "shared" in names(app, second) and "only_one" not in names(app, second)
    assert not {"shared", "only_one"} & names(app, plain)
    assert not {"shared", "only_one"} & names(app, None)
    # Same server name in two roots: each thread reaches its own root's process.
    assert server_env(app, first, "shared")["WHO"] == "one"
    assert server_env(app, second, "shared")["WHO"] == "two"
    for thread_id in (second, plain):
        error = app.call_error("mcpServer/tool/call", {"threadId": thread_id, "server": "only_one",
                                                       "tool": "environ", "arguments": {}})
        assert "only_one" in error.message
        login = app.call_error("mcpServer/oauth/login", {"threadId": thread_id, "name": "only_one"})
        assert login.message == "No MCP server named 'only_one' found."
    # The selecting thread may try (a stdio server cannot log in, but it is found).
    login = app.call_error("mcpServer/oauth/login", {"threadId": first, "name": "only_one"})
    assert "only supported for streamable HTTP" in login.message


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "symlink"])
def test_a_manifest_cannot_point_outside_its_root(tmp_path: Path, running: AppServerProcess, escape: str) -> None:
    app = running
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"mcpServers": {"escaped": env_server()}}))
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    target = {"dotdot": "./../outside.json", "absolute": str(outside), "symlink": "./link.json"}[escape]
    if escape == "symlink":
        (plugin / "link.json").symlink_to(outside)
    write_root(plugin, {"name": "sneaky", "mcpServers": target}, {"inside": env_server()})
    thread = app.call("thread/start", {"model": "mock-model", "selectedCapabilityRoots": [
        root("sneaky@1", "executor-1", plugin)]})["thread"]["id"]
    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)
    listed = names(app, thread)
    assert "escaped" not in listed
    assert "inside" in listed, listed  # the invalid declaration falls back to the root's .mcp.json


def test_only_declared_environment_reaches_servers(tmp_path: Path, running: AppServerProcess) -> None:
    app = running
    plugin = write_root(tmp_path / "plugin", {"name": "envy"}, {
        "exec_env": env_server(env_vars=[MARKER], env={"LITERAL": "lit"}),
        "exec_bare": env_server(),
    })
    thread = app.call("thread/start", {
        "model": "mock-model", "config": {"mcp_servers.host_env.enabled": True},
        "selectedCapabilityRoots": [root("envy@1", "executor-1", plugin)],
    })["thread"]["id"]
    app.wait_stderr(CONNECTED.format("executor-1"), timeout=60)

    host = server_env(app, thread, "host_env")  # config.toml, a local child of the app-server
    assert host["ROOTSTEP_TEST_ALLOWED"] == "allowed" and host["LITERAL"] == "lit"
    assert set(host) <= DEFAULT_VARS | {"ROOTSTEP_TEST_ALLOWED", "LITERAL"}, sorted(set(host) - DEFAULT_VARS)

    executor = server_env(app, thread, "exec_env")  # inside the executor, env_vars from there
    assert executor[MARKER] == MARKER_VALUE and executor["LITERAL"] == "lit"
    assert set(executor) <= DEFAULT_VARS | {MARKER, "LITERAL"}, sorted(set(executor) - DEFAULT_VARS)

    bare = server_env(app, thread, "exec_bare")
    assert set(bare) <= DEFAULT_VARS, sorted(set(bare) - DEFAULT_VARS)
    for env in (host, executor, bare):
        assert HOST_SECRET not in env and EXECUTOR_SECRET not in env and "OPENAI_API_KEY" not in env
        assert "host-secret" not in json.dumps(env) and "executor-secret" not in json.dumps(env)
