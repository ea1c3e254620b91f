"""Config servers next to plugin servers (spec §11.4): a server appended to config.toml after
thread start is callable after ``config/mcpServer/reload`` and the next turn, while the plugin's
server keeps working — on the same process (only the new server starts)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mcp_helpers import ECHO_SERVER
from tests.fixtures.mock_model import MockModel, assistant_text, write_config
from tests.selected_roots.helpers import child_tool, pids, root, write_plugin

pytestmark = pytest.mark.timeout(120)


def test_reloaded_config_server_joins_the_plugin_servers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pid_file = tmp_path / "plugin.pids"
    before = descendants()
    with MockModel() as model:
        write_config(home, model)
        plugin = write_plugin(tmp_path / "plugin", pid_file=pid_file, skill=False, env_vars=False)
        with AppServerProcess(home) as app:
            app.initialize()
            roots = [root("demo@1", "local", plugin)]
            thread = app.call("thread/start", {"selectedCapabilityRoots": roots})["thread"]["id"]
            model.queue(assistant_text("one"))
            assert app.run_turn(thread, "one")["status"] == "completed"
            assert child_tool(model.requests[-1].body, "mcp__executor_demo", "echo") is not None
            with (home / "config.toml").open("a") as fh:
                fh.write(f'\n[mcp_servers.refresh_probe]\ncommand = "{sys.executable}"\nargs = ["{ECHO_SERVER}"]\n')
            app.call("config/mcpServer/reload", None, omit_params=True)
            model.queue(assistant_text("two"))
            assert app.run_turn(thread, "two")["status"] == "completed"
            body = model.requests[-1].body
            assert child_tool(body, "mcp__refresh_probe", "echo") is not None
            assert child_tool(body, "mcp__executor_demo", "echo") is not None
            result = app.call("mcpServer/tool/call", {"threadId": thread, "server": "refresh_probe", "tool": "echo",
                                                      "arguments": {"message": "probe"}})
            assert result["structuredContent"]["echo"] == "ECHOING: probe"
            result = app.call("mcpServer/tool/call", {"threadId": thread, "server": "executor_demo", "tool": "echo",
                                                      "arguments": {"message": "plugin"}})
            assert result["structuredContent"]["echo"] == "ECHOING: plugin"
            assert len(pids(pid_file)) == 1  # the plugin's server was not restarted
            app.assert_schema_clean()
            assert app.close() == 0
    assert not (descendants() - before)
