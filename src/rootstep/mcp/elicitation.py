"""Asking the client: MCP elicitations and tool-call approvals (spec §6.4 step 4, §11 item 9).

Both become one server→client request, ``mcpServer/elicitation/request``, answered with
``{action, content?, _meta?}``:

- a server's ``elicitation/create`` during a call is forwarded as is (form or url mode) and the
  client's answer goes back to the server;
- a tool call that needs approval (policy ``on-request``/``untrusted``, a tool that is not
  read-only) is asked as a form elicitation with an empty schema and
  ``_meta.codex_approval_kind = "mcp_tool_call"``, like codex 0.169 with its default
  ``tool_call_mcp_elicitation`` feature. ``_meta.persist`` advertises "allow for this session"
  / "always" when the tool has a stable identity; the thread's router remembers session
  approvals and writes "always" to ``config.toml`` (:mod:`rootstep.mcp.approval_memory`).

:class:`ElicitationRouter` is one per thread. Every connection manager the thread builds gets
the same router, so a manager that outlives a runtime rebuild (an in-flight call waiting on an
elicitation) still reaches the client. Building requests and reading answers are pure functions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import mcp_types as types
from pydantic import Field, ValidationError

from rootstep.mcp.approval_memory import (
    ApprovalMemory,
    Decision,
    PersistError,
    normalize,
    parse_decision,
    persist_options,
    persist_tool_approval,
    persisted,
    persistent_key,
    question_id,
    session_key,
)
from rootstep.protocol.base import WireModel

log = logging.getLogger(__name__)

METHOD = "mcpServer/elicitation/request"
APPROVAL_KIND_KEY = "codex_approval_kind"
APPROVAL_KIND_MCP_TOOL_CALL = "mcp_tool_call"
TOOL_NAME_KEY = "tool_name"
TOOL_TITLE_KEY = "tool_title"
TOOL_DESCRIPTION_KEY = "tool_description"
TOOL_PARAMS_KEY = "tool_params"
TOOL_PARAMS_DISPLAY_KEY = "tool_params_display"
PERSIST_KEY = "persist"  # same key as approval_memory.PERSIST_KEY
USER_REJECTED = "user rejected MCP tool call"
USER_CANCELLED = "user cancelled MCP tool call"

Action = Literal["accept", "decline", "cancel"]


class ElicitationRequestParams(WireModel):
    """``mcpServer/elicitation/request`` params (McpServerElicitationRequestParams, 0.169)."""

    METHOD: ClassVar[str] = METHOD
    thread_id: str
    turn_id: str | None = None
    server_name: str
    mode: Literal["form", "url"]
    meta: Any = Field(default=None, alias="_meta")
    message: str
    requested_schema: Any = None
    url: str | None = None
    elicitation_id: str | None = None
    __omit_none__ = frozenset({"requested_schema", "url", "elicitation_id"})


class ElicitationResponse(WireModel):
    """The client's answer (McpServerElicitationRequestResponse)."""

    action: Action
    content: Any = None
    meta: Any = Field(default=None, alias="_meta")


DECLINE = ElicitationResponse(action="decline")

AskClient = Callable[[ElicitationRequestParams], Awaitable[ElicitationResponse]]
TurnLookup = Callable[[], str | None]


def parse_response(raw: Any) -> ElicitationResponse:
    """The client's result; anything unreadable is a decline (as the reference)."""
    try:
        return ElicitationResponse.model_validate(raw)
    except ValidationError as exc:
        log.warning("unreadable elicitation answer (declined): %s", exc)
        return DECLINE


# --- tool-call approval (pure) ------------------------------------------------------------


def approval_message(server: str, tool: str) -> str:
    return f'Allow the {server} MCP server to run tool "{tool}"?'


def approval_request(
    *,
    thread_id: str,
    turn_id: str | None,
    server: str,
    tool: types.Tool,
    arguments: Mapping[str, Any] | None,
    persist: str | list[str] | None = None,
) -> ElicitationRequestParams:
    """The approval prompt codex 0.169 sends for an MCP tool call (``build_mcp_tool_approval_*``);
    ``persist`` is the ``_meta.persist`` offer (:func:`~rootstep.mcp.approval_memory.persist_options`)."""
    meta: dict[str, Any] = {APPROVAL_KIND_KEY: APPROVAL_KIND_MCP_TOOL_CALL}
    if persist is not None:
        meta[PERSIST_KEY] = list(persist) if isinstance(persist, list) else persist
    meta[TOOL_NAME_KEY] = tool.name  # the 0.169 binary sends it (guardian reviews read it)
    if tool.title:
        meta[TOOL_TITLE_KEY] = tool.title
    if tool.description:
        meta[TOOL_DESCRIPTION_KEY] = tool.description
    if arguments is not None:
        meta[TOOL_PARAMS_KEY] = dict(arguments)
        meta[TOOL_PARAMS_DISPLAY_KEY] = [
            {"name": name, "value": arguments[name], "display_name": name} for name in sorted(arguments)
        ]
    return ElicitationRequestParams(
        thread_id=thread_id,
        turn_id=turn_id,
        server_name=server,
        mode="form",
        meta=meta,
        message=approval_message(server, tool.name),
        requested_schema={"type": "object", "properties": {}},
    )


def approval_refusal(response: ElicitationResponse) -> str | None:
    """None when the client approved; else the error text the call fails with."""
    if response.action == "accept":
        return None
    return USER_REJECTED if response.action == "decline" else USER_CANCELLED


def approval_decision(response: ElicitationResponse, call_id: str, approval_mode: str) -> Decision:
    """What the client chose, remembering options included (``_meta.persist`` or an option
    label in ``content``), normalized for the tool's approval mode."""
    decision = parse_decision(response.action, response.content, response.meta, question_id(call_id))
    return normalize(decision, approval_mode)


def decision_refusal(decision: Decision) -> str | None:
    """None for every accept; else the error text the call fails with."""
    if decision.accepted:
        return None
    return USER_REJECTED if decision is Decision.DECLINE else USER_CANCELLED


# --- forwarding a server's elicitation/create (pure) --------------------------------------


def forwarded_request(
    params: types.ElicitRequestParams, *, thread_id: str, turn_id: str | None, server: str
) -> ElicitationRequestParams:
    """A server's ``elicitation/create`` as the client sees it."""
    meta: Any = params.meta
    if hasattr(meta, "model_dump"):
        meta = meta.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(params, types.ElicitRequestURLParams):
        return ElicitationRequestParams(
            thread_id=thread_id, turn_id=turn_id, server_name=server, mode="url", meta=meta,
            message=params.message, url=params.url, elicitation_id=params.elicitation_id,
        )
    schema = params.requested_schema
    if hasattr(schema, "model_dump"):
        schema = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return ElicitationRequestParams(
        thread_id=thread_id, turn_id=turn_id, server_name=server, mode="form", meta=meta,
        message=params.message, requested_schema=schema,
    )


def server_result(response: ElicitationResponse) -> types.ElicitResult:
    """The client's answer as the MCP server gets it."""
    content = response.content if response.action == "accept" and isinstance(response.content, dict) else None
    data: dict[str, Any] = {"action": response.action}
    if content is not None:
        data["content"] = content
    if response.meta is not None:
        data["_meta"] = response.meta
    return types.ElicitResult.model_validate(data)


class ElicitationRouter:
    """One thread's way to the client (shared by every manager the thread builds).

    ``ask`` sends ``mcpServer/elicitation/request`` and returns the answer (a client that is
    gone is a decline); ``turn_id`` gives the thread's running turn, if any. A router without
    ``ask`` cannot prompt: approvals are declined and elicitations answered ``decline``.
    """

    def __init__(
        self,
        thread_id: str,
        ask: AskClient | None = None,
        turn_id: TurnLookup | None = None,
        *,
        config_path: Path | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.ask = ask
        self._turn_id = turn_id
        # "Allow for this session" approvals: this thread's only (one router per thread).
        self.approvals = ApprovalMemory()
        # Where "always" is written; None: ``$CODEX_HOME/config.toml`` at the time of writing.
        self._config_path = config_path

    @property
    def can_prompt(self) -> bool:
        return self.ask is not None

    def current_turn(self) -> str | None:
        return self._turn_id() if self._turn_id is not None else None

    async def request(self, params: ElicitationRequestParams) -> ElicitationResponse:
        if self.ask is None:
            return DECLINE
        try:
            return await self.ask(params)
        except Exception as exc:  # noqa: BLE001 - a client that cannot answer declines
            log.info("elicitation request failed (declined): %s", exc)
            return DECLINE

    @property
    def config_path(self) -> Path:
        if self._config_path is not None:
            return self._config_path
        from rootstep.config.home import codex_home

        return codex_home() / "config.toml"

    async def approve_tool_call(
        self,
        server: str,
        tool: types.Tool,
        arguments: Mapping[str, Any] | None,
        *,
        turn_id: str | None,
        call_id: str = "",
        approval_mode: str = "auto",
        connector_id: str | None = None,
        selected_root: bool = False,
    ) -> str | None:
        """None when approved (remembered for this thread, or the client accepts now), else why
        the call is refused. The client's "session" / "always" choice is remembered here."""
        session = session_key(server, tool.name, approval_mode, connector_id)
        if session is not None and session in self.approvals:
            return None
        persistent = persistent_key(server, tool.name, approval_mode, connector_id, selected_root=selected_root)
        if persistent is not None and persisted(self.config_path, server, tool.name):
            return None  # "always", written by this process after the thread read config.toml
        params = approval_request(
            thread_id=self.thread_id, turn_id=turn_id, server=server, tool=tool, arguments=arguments,
            persist=persist_options(session, persistent),
        )
        decision = approval_decision(await self.request(params), call_id, approval_mode)
        if decision is Decision.ACCEPT_AND_REMEMBER and persistent is not None:
            try:  # under the config writers' lock, which another process may hold: off the loop
                await anyio.to_thread.run_sync(persist_tool_approval, self.config_path, server, tool.name)
            except PersistError as exc:
                log.warning(
                    "failed to persist MCP tool approval for %s/%s (this session only): %s", server, tool.name, exc
                )
        if decision in (Decision.ACCEPT_FOR_SESSION, Decision.ACCEPT_AND_REMEMBER) and session is not None:
            self.approvals.remember(session)
        return decision_refusal(decision)

    def callback_for(self, server: str) -> Callable[..., Awaitable[types.ElicitResult | types.ErrorData]]:
        """The ``elicitation_callback`` of ``server``'s ``ClientSession``."""

        async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult | types.ErrorData:
            request = forwarded_request(params, thread_id=self.thread_id, turn_id=self.current_turn(), server=server)
            return server_result(await self.request(request))

        return on_elicit
