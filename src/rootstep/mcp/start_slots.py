"""How many stdio MCP servers start at once in one environment.

Starting a stdio server (spawn, ``initialize``, the first ``tools/list``) is mostly the server's
own imports: CPU on the machine it runs on. Fifty threads that select the same plugin at once
would start fifty servers together, and on a small machine every one of them would run past its
``startup_timeout_sec`` before any finished. A bounded number of start-up slots per environment
keeps the herd moving: each server's timeout counts from the moment it holds a slot, and the slot
is given back as soon as the server is ready (or has failed). HTTP servers take no slot.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field

import anyio

from rootstep.config.mcp_servers import McpServerConfig, StdioTransport


def default_slots() -> int:
    """Two starts per core, at least four (a server waiting on I/O does not use its core)."""
    return max(4, 2 * (os.cpu_count() or 1))


@dataclass
class StartSlots:
    """Start-up slots per environment id (an app-server service; one event loop)."""

    per_environment: int = field(default_factory=default_slots)
    _limiters: dict[str, anyio.CapacityLimiter] = field(default_factory=dict)

    def slot(self, config: McpServerConfig) -> AbstractAsyncContextManager[object]:
        """Hold this for a server's start-up: a slot of its environment, or nothing for HTTP."""
        if not isinstance(config.transport, StdioTransport):
            return nullcontext()
        limiter = self._limiters.get(config.environment_id)
        if limiter is None:
            limiter = self._limiters[config.environment_id] = anyio.CapacityLimiter(self.per_environment)
        return limiter
