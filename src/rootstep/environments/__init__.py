"""Executor environments: where plugin files live, stdio MCP servers run and HTTP goes out.

``LocalEnvironment`` is in-process; ``RemoteEnvironment`` talks to an exec-server (a stdio
child or a websocket); ``EnvironmentManager`` owns them all, starts executors lazily and
answers "is it ready now?" without waiting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Exported names → defining module. Imported on first access, so that a process which only
# needs the host primitives (the exec-server) does not pay for the MCP SDK and httpx.
_EXPORTS = {
    "Environment": "base",
    "FileMetadata": "base",
    "StdioLaunch": "base",
    "ExecServerClient": "exec_client",
    "ProcessEvent": "exec_client",
    "ProcessSession": "exec_client",
    "ExecutorStartError": "links",
    "open_stdio_link": "links",
    "open_websocket_link": "links",
    "LOCAL_ENVIRONMENT_ID": "local",
    "LocalEnvironment": "local",
    "EnvironmentManager": "manager",
    "EnvironmentStatus": "manager",
    "EnvironmentUnavailable": "remote",
    "RemoteEnvironment": "remote",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from rootstep.environments.base import (
        Environment as Environment,
        FileMetadata as FileMetadata,
        StdioLaunch as StdioLaunch,
    )
    from rootstep.environments.exec_client import (
        ExecServerClient as ExecServerClient,
        ProcessEvent as ProcessEvent,
        ProcessSession as ProcessSession,
    )
    from rootstep.environments.links import (
        ExecutorStartError as ExecutorStartError,
        open_stdio_link as open_stdio_link,
        open_websocket_link as open_websocket_link,
    )
    from rootstep.environments.local import (
        LOCAL_ENVIRONMENT_ID as LOCAL_ENVIRONMENT_ID,
        LocalEnvironment as LocalEnvironment,
    )
    from rootstep.environments.manager import (
        EnvironmentManager as EnvironmentManager,
        EnvironmentStatus as EnvironmentStatus,
    )
    from rootstep.environments.remote import (
        EnvironmentUnavailable as EnvironmentUnavailable,
        RemoteEnvironment as RemoteEnvironment,
    )
