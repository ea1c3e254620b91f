"""How a server's start-up went, and why a server is not there (no MCP SDK needed here)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

ConnectionState = Literal["starting", "ready", "failed", "cancelled"]


class ServerGone(RuntimeError):
    """The server is not connected (failed to start, crashed, or the runtime closed)."""


@dataclass(frozen=True)
class StartupStatus:
    """One ``mcpServer/startupStatus/updated`` event (without the thread id)."""

    name: str
    status: Literal["starting", "ready", "failed", "cancelled"]
    error: str | None = None
    failure_reason: Literal["reauthenticationRequired"] | None = None


def startup_failure_text(name: str, reason: str) -> str:
    """The 0.169 text for a server that failed to start (spec §2.11)."""
    return f"MCP client for `{name}` failed to start: MCP startup failed: {reason}"


def login_required(exc: BaseException) -> Any:
    """The OAuth "needs login" failure (``OAuthLoginRequiredError``) inside ``exc``, exception
    groups unwrapped, or None. The OAuth package is not imported for this: when it is not loaded,
    no such error can have been raised."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    errors = sys.modules.get("rootstep.mcp.oauth.errors")
    cls = getattr(errors, "OAuthLoginRequiredError", None)
    return exc if cls is not None and isinstance(exc, cls) else None


def not_logged_in_text(name: str) -> str:
    """The reference's startup error for a server that needs an OAuth login (CLI name ours)."""
    return f"The {name} MCP server is not logged in. Run `rootstep mcp login {name}`."


def describe_error(exc: BaseException) -> str:
    """A one-line reason for an exception, exception groups unwrapped."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return "No such file or directory (os error 2)"  # the reference's text; the command is in the config
    text = str(exc) or type(exc).__name__
    return text
