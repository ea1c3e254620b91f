"""This machine as an executor describes it: its shell and working directory (standard library
only, so the stdio executor's first answer needs nothing else)."""

from __future__ import annotations

import os
import shutil

from rootstep.file_uri import path_to_uri


def host_shell() -> str:
    """``$SHELL``, else bash, else ``/bin/sh``."""
    return os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"


def environment_info(cwd: str | None = None) -> dict[str, object]:
    """``environment/info`` (and the ``initialize`` result's ``environmentInfo``), in wire form."""
    shell = host_shell()
    return {
        "shell": {"name": os.path.basename(shell), "path": shell},
        "cwd": path_to_uri(cwd or os.getcwd()),
        "capabilities": {"networkProxyLaunch": False},
    }
