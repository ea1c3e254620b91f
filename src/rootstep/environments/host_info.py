"""``environment/info`` of this host: the shell and working directory an executor reports."""

from __future__ import annotations

from rootstep.host import environment_info
from rootstep.protocol.exec_server import EnvironmentInfo


def host_environment_info(cwd: str | None = None) -> EnvironmentInfo:
    return EnvironmentInfo.model_validate(environment_info(cwd))
