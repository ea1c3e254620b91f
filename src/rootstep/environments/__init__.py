"""Executor environments: where plugin files live, stdio MCP servers run and HTTP goes out.

``LocalEnvironment`` is in-process; ``RemoteEnvironment`` talks to an exec-server (a stdio
child or a websocket); ``EnvironmentManager`` owns them all, starts executors lazily and
answers "is it ready now?" without waiting.
"""

from rootstep.environments.base import Environment, FileMetadata, StdioLaunch
from rootstep.environments.exec_client import ExecServerClient, ProcessEvent, ProcessSession
from rootstep.environments.links import ExecutorStartError, open_stdio_link, open_websocket_link
from rootstep.environments.local import LOCAL_ENVIRONMENT_ID, LocalEnvironment
from rootstep.environments.manager import EnvironmentManager, EnvironmentStatus
from rootstep.environments.remote import EnvironmentUnavailable, RemoteEnvironment

__all__ = [
    "LOCAL_ENVIRONMENT_ID",
    "Environment",
    "EnvironmentManager",
    "EnvironmentStatus",
    "EnvironmentUnavailable",
    "ExecServerClient",
    "ExecutorStartError",
    "FileMetadata",
    "LocalEnvironment",
    "ProcessEvent",
    "ProcessSession",
    "RemoteEnvironment",
    "StdioLaunch",
    "open_stdio_link",
    "open_websocket_link",
]
