"""The app-server's side of the agent's own tools: each loaded thread's
:class:`~rootstep.agent_tools.source.AgentTools` (for the requests that reach a thread's
processes: background terminals, shell commands) and what they share with the server — the
environments, the clients to ask, the task group their processes live in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootstep.agent_tools.source import AgentTools, AgentToolsWiring
from rootstep.tools import ThreadToolsContext

if TYPE_CHECKING:
    from rootstep.app_server.background import Background
    from rootstep.app_server.clients import Clients
    from rootstep.app_server.environments_service import EnvironmentsService


class AgentToolsService:
    def __init__(self, *, clients: Clients, environments: EnvironmentsService, background: Background) -> None:
        self.clients = clients
        self.environments = environments
        self.background = background
        self.threads: dict[str, AgentTools] = {}

    async def _ask(self, thread_id: str, method: str, params: Any) -> Any:
        return await self.clients.ask(thread_id, method, params, announce_resolved=True)

    def thread_tools(self, context: ThreadToolsContext) -> AgentTools:
        """A new thread's agent tools (registered until the thread closes them)."""
        thread = context.thread
        wiring = AgentToolsWiring(
            environments=self.environments, ask=self._ask, emit=self.clients.emit, background=self.background,
            codex_home=context.config.home,
        )
        tools = AgentTools(thread, wiring, stored=context.stored, on_close=lambda: self.threads.pop(thread.id, None))
        self.threads[thread.id] = tools
        return tools

    def for_thread(self, thread_id: str) -> AgentTools | None:
        return self.threads.get(thread_id)
