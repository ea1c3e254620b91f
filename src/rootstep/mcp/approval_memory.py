"""Remembered MCP tool-call approvals: "Allow for this session" and "Allow and don't ask me again".

codex 0.169 offers more than a one-off accept when it asks before an MCP tool call
(``mcp_tool_call.rs``, ``mcp_approval_meta``):

- the prompt's ``_meta.persist`` advertises what the answer may ask to remember: ``"session"``,
  ``"always"``, or both as ``["session", "always"]`` (absent when neither is possible);
- a tool has a *session key* (server, connector, tool) only under approval mode ``auto``
  (``prompt``/``writes`` ask every time; a ``codex_apps`` tool without a connector has no stable
  identity). The *persistent key* is the same key, except for servers a selected capability
  root contributed: they are not in ``config.toml``, so "always" cannot be written for them;
- the client picks with ``{action: "accept", _meta: {persist: "session"|"always"}}`` or, like
  the request-user-input prompt, ``content: {"mcp_tool_call_approval_<call id>": "<label>"}``;
- "session" remembers the key in the thread's memory (:class:`ApprovalMemory`, owned by the
  thread's :class:`~rootstep.mcp.elicitation.ElicitationRouter`, so it never reaches another
  thread and ends with the loaded thread, as the reference's per-session store does);
- "always" writes ``[mcp_servers.<server>.tools.<tool>] approval_mode = "approve"`` into
  ``config.toml`` when that server is configured there, and remembers the key for the session
  too; when it cannot be written (selected-root server, server only in ``-c``, unreadable file)
  the approval is remembered for the session only. Every thread of the process then runs the
  tool unasked (:func:`persisted`), as the reference's threads do after re-reading config.toml.

Everything but :class:`ApprovalMemory` and :func:`persist_tool_approval` is a pure function.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PERSIST_KEY = "persist"
PERSIST_SESSION = "session"
PERSIST_ALWAYS = "always"
QUESTION_ID_PREFIX = "mcp_tool_call_approval"
LABEL_ACCEPT = "Allow"
LABEL_ACCEPT_FOR_SESSION = "Allow for this session"
LABEL_ACCEPT_AND_REMEMBER = "Allow and don't ask me again"
LABEL_DECLINE_SYNTHETIC = "__codex_mcp_decline__"
CODEX_APPS_SERVER = "codex_apps"
APPROVE = "approve"


class Decision(enum.Enum):
    ACCEPT = "accept"
    ACCEPT_FOR_SESSION = "accept_for_session"
    ACCEPT_AND_REMEMBER = "accept_and_remember"
    DECLINE = "decline"
    CANCEL = "cancel"

    @property
    def accepted(self) -> bool:
        return self in (Decision.ACCEPT, Decision.ACCEPT_FOR_SESSION, Decision.ACCEPT_AND_REMEMBER)


@dataclass(frozen=True)
class ApprovalKey:
    """What a remembered approval covers: one tool of one server (and connector)."""

    server: str
    tool: str
    connector_id: str | None = None


# --- decisions (pure) -------------------------------------------------------------------------


def session_key(server: str, tool: str, approval_mode: str, connector_id: str | None = None) -> ApprovalKey | None:
    """The key "for this session" would remember; None when the tool must be asked every time."""
    if approval_mode != "auto":
        return None
    if server == CODEX_APPS_SERVER and connector_id is None:
        return None
    return ApprovalKey(server=server, tool=tool, connector_id=connector_id)


def persistent_key(
    server: str, tool: str, approval_mode: str, connector_id: str | None = None, *, selected_root: bool = False
) -> ApprovalKey | None:
    """The key "always" would write; None for selected-root servers (not in ``config.toml``)
    and for the host-owned ``codex_apps`` server (rootstep has no ``[apps]`` approvals)."""
    if selected_root or server == CODEX_APPS_SERVER:
        return None
    return session_key(server, tool, approval_mode, connector_id)


def persist_options(session: ApprovalKey | None, persistent: ApprovalKey | None) -> str | list[str] | None:
    """``_meta.persist`` of the prompt: what the client may ask to remember."""
    if session is not None and persistent is not None:
        return [PERSIST_SESSION, PERSIST_ALWAYS]
    if session is not None:
        return PERSIST_SESSION
    if persistent is not None:
        return PERSIST_ALWAYS
    return None


def question_id(call_id: str) -> str:
    return f"{QUESTION_ID_PREFIX}_{call_id}"


def _answers(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return None


def decision_from_labels(answers: list[str] | None) -> Decision:
    """The request-user-input answer labels → a decision (no answer: cancel)."""
    if answers is None:
        return Decision.CANCEL
    for label, decision in (
        (LABEL_DECLINE_SYNTHETIC, Decision.DECLINE),
        (LABEL_ACCEPT_FOR_SESSION, Decision.ACCEPT_FOR_SESSION),
        (LABEL_ACCEPT_AND_REMEMBER, Decision.ACCEPT_AND_REMEMBER),
        (LABEL_ACCEPT, Decision.ACCEPT),
    ):
        if label in answers:
            return decision
    return Decision.CANCEL


def parse_decision(action: str, content: Any, meta: Any, question: str) -> Decision:
    """The client's ``{action, content?, _meta?}`` → a decision (the reference's parsing).

    ``_meta.persist`` wins; else ``content[question]`` may carry an option label; an accept
    with neither is a plain accept.
    """
    if action == "decline":
        return Decision.DECLINE
    if action != "accept":
        return Decision.CANCEL
    persist = meta.get(PERSIST_KEY) if isinstance(meta, Mapping) else None
    if persist == PERSIST_SESSION:
        return Decision.ACCEPT_FOR_SESSION
    if persist == PERSIST_ALWAYS:
        return Decision.ACCEPT_AND_REMEMBER
    if content is None:
        return Decision.ACCEPT
    if not isinstance(content, Mapping):
        return Decision.ACCEPT
    decision = decision_from_labels(_answers(content.get(question)) if question in content else None)
    return Decision.ACCEPT if decision is Decision.CANCEL else decision


def normalize(decision: Decision, approval_mode: str) -> Decision:
    """``prompt``/``writes`` tools are asked every time: a remembering accept is a plain accept."""
    remembering = (Decision.ACCEPT_FOR_SESSION, Decision.ACCEPT_AND_REMEMBER)
    if approval_mode in ("prompt", "writes") and decision in remembering:
        return Decision.ACCEPT
    return decision


# --- the thread's memory ----------------------------------------------------------------------


class ApprovalMemory:
    """One thread's "allow for this session" approvals (lives as long as its router)."""

    def __init__(self) -> None:
        self._keys: set[ApprovalKey] = set()

    def remember(self, key: ApprovalKey) -> None:
        self._keys.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


# --- "always": config.toml ---------------------------------------------------------------------


class PersistError(Exception):
    """The approval could not be written (the caller remembers it for the session instead)."""


# "Always" approvals this process wrote, per config.toml. Threads read their servers' settings
# when they start, so a thread started before the write (or any thread of a process that loaded
# config.toml earlier) would still ask; the reference re-reads config.toml for every new thread.
# Consulting this record gives every thread of the process what config.toml now says.
_PERSISTED: dict[Path, set[ApprovalKey]] = {}


def persisted(path: Path, server: str, tool: str) -> bool:
    """Whether this process wrote "always" for ``server``'s ``tool`` into ``path``."""
    return ApprovalKey(server=server, tool=tool) in _PERSISTED.get(path, ())


def _trailing_trivia(table: Any) -> list[Any]:
    """Pop the comments and blank lines that end ``table``'s body (tomlkit keeps the comment
    above the next table there): a table appended after it goes before them, so they stay
    with the table they describe."""
    body = table.value.body
    trailing: list[Any] = []
    while body and body[-1][0] is None and type(body[-1][1]).__name__ in ("Comment", "Whitespace"):
        trailing.insert(0, body.pop()[1])
    return trailing


def persist_tool_approval(path: Path, server: str, tool: str) -> None:
    """Write ``[mcp_servers.<server>.tools.<tool>] approval_mode = "approve"`` into ``path``,
    keeping everything else (tomlkit, through :mod:`rootstep.config.writer`: the config
    writers' lock, an atomic replace that keeps the file private). Only a server configured in
    that file is written (the reference's ``user_mcp_server_is_configured``). Blocks (a lock
    another process may hold): async callers run it in a worker thread."""
    from rootstep.config.writer import ConfigFileError, locked_config

    try:
        with locked_config(path) as config:
            _approve_in(config.doc, path, server, tool)
            config.save()
    except ConfigFileError as exc:
        raise PersistError(str(exc)) from None
    except OSError as exc:
        raise PersistError(f"failed to write {path}: {exc}") from None
    _PERSISTED.setdefault(path, set()).add(ApprovalKey(server=server, tool=tool))


def _approve_in(doc: Any, path: Path, server: str, tool: str) -> None:
    """Set ``approval_mode = "approve"`` for ``server``'s ``tool`` in the document (in place)."""
    import tomlkit
    from tomlkit.items import Table

    servers = doc.get("mcp_servers")
    entry: Any = servers.get(server) if isinstance(servers, Mapping) else None
    if not isinstance(entry, Mapping):
        raise PersistError(f"MCP server `{server}` is not configured in {path}")
    tools: Any = entry.get("tools")
    if tools is not None and not isinstance(tools, Mapping):
        raise PersistError(f"`mcp_servers.{server}.tools` in {path} is not a table")
    setting: Any = tools.get(tool) if tools is not None else None
    if setting is not None and not isinstance(setting, Mapping):
        raise PersistError(f"`mcp_servers.{server}.tools.{tool}` in {path} is not a table")
    trailing: list[Any] = []
    if setting is None and isinstance(entry, Table) and (tools is None or isinstance(tools, Table)):
        # a new [mcp_servers.<server>.tools.<tool>] table, after the last table it follows
        previous = [t for t in (tools or {}).values() if isinstance(t, Table)]
        trailing = _trailing_trivia(previous[-1] if previous else entry)
    if tools is None:
        tools = tomlkit.table(is_super_table=True) if isinstance(entry, Table) else tomlkit.inline_table()
        entry["tools"] = tools
    if setting is None:
        setting = tomlkit.table() if isinstance(tools, Table) else tomlkit.inline_table()
        tools[tool] = setting
    setting["approval_mode"] = APPROVE
    for item in trailing:
        setting.value.append(None, item)
