"""``environment/info`` of this host: the shell and working directory an executor reports."""

from __future__ import annotations

import os
import shutil

from rootstep.protocol.exec_server import EnvironmentCapabilities, EnvironmentInfo, ShellInfo, path_to_uri


def host_environment_info(cwd: str | None = None) -> EnvironmentInfo:
    shell = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
    return EnvironmentInfo(
        shell=ShellInfo(name=os.path.basename(shell), path=shell),
        cwd=path_to_uri(cwd or os.getcwd()),
        capabilities=EnvironmentCapabilities(network_proxy_launch=False),
    )
