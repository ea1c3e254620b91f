"""rootstep's replacement for the upstream suite's conftest (see ../NOTE.md).

Upstream pointed ``sys.path`` at the SDK's source tree and let the harness launch the pinned
runtime binary. Here the installed ``openai-codex`` is used, and every harness config launches
the app-server under test: ``SDK_SUITE_SERVER=rootstep`` (default: ``python -m rootstep
app-server``) or ``reference`` (``ROOTSTEP_REFERENCE_CODEX`` or the project's ``.reference``
codex binary).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import app_server_harness  # noqa: E402


def server_command() -> tuple[str, ...]:
    if os.environ.get("SDK_SUITE_SERVER", "rootstep") == "reference":
        project = HERE.parents[3]
        codex = os.environ.get("ROOTSTEP_REFERENCE_CODEX") or str(project / ".reference/node_modules/.bin/codex")
        return (codex, "app-server", "--listen", "stdio://")
    return (sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://")


_upstream_config = app_server_harness.AppServerHarness.app_server_config


def _config_for_server_under_test(self):  # type: ignore[no-untyped-def]
    return dataclasses.replace(_upstream_config(self), launch_args_override=server_command())


app_server_harness.AppServerHarness.app_server_config = _config_for_server_under_test
