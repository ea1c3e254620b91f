"""When the last client has gone, the loaded threads nobody follows are unloaded (their MCP
servers and other children stopped), as codex 0.169 does; while any client is connected,
threads stay loaded (another client may resume them).

A thread with a running turn is unloaded when the turn ends (the TUI tells its user that
running work continues after it quits), unless a client follows it again by then.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rootstep.protocol.notifications import ThreadClosed, ThreadStatusChanged
from rootstep.protocol.thread import ThreadStatus

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer

log = logging.getLogger(__name__)


def followed(server: AppServer, thread_id: str) -> bool:
    return any(thread_id in c.subscriptions for c in server.connections)


async def unload_unfollowed(server: AppServer, thread_id: str) -> None:
    """Unload ``thread_id`` unless somebody follows it again (or it is gone already)."""
    thread = server.manager.threads.get(thread_id)
    if thread is None or followed(server, thread_id):
        return
    if thread.active is not None:
        await thread.active.done.wait()
        await unload_unfollowed(server, thread_id)
        return
    if await server.manager.unload_thread(thread_id):
        await server.emit(ThreadStatusChanged(thread_id=thread_id, status=ThreadStatus.not_loaded()))
        await server.emit(ThreadClosed(thread_id=thread_id))


async def client_gone(server: AppServer) -> None:
    """A connection has ended (it is no longer in ``server.connections``); call shielded."""
    if server.connections:
        return
    for thread_id in list(server.manager.threads):
        thread = server.manager.threads.get(thread_id)
        if thread is None or followed(server, thread_id):
            continue
        if thread.active is not None:
            server.services.background.start_soon(unload_unfollowed, server, thread_id, name="unload-after-turn")
        else:
            await unload_unfollowed(server, thread_id)
