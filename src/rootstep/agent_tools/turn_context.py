"""What the model is told about where and how it works, and when it is told again.

Three sections, in 0.169's order: the project instructions (``# AGENTS.md instructions``, a user
message), the permissions (``<permissions instructions>``, a developer message) and the
environment (``<environment_context>``, a user message). A thread's first turn gets them all —
the developer section in one message, then the user sections together in one message — before
the user's input; every later turn gets only the sections whose facts changed, each message
holding consecutive sections of one role, again before the input. The facts a turn was told are
kept as a JSON :meth:`TurnContext.snapshot` (persisted in the rollout, so a resumed thread is
not told again what it already knows).

A changed instruction set is announced as replacing the previous one (``These AGENTS.md
instructions replace all previously provided …``); instructions that disappeared are withdrawn
(``The previously provided AGENTS.md instructions no longer apply.``). Pure, except for
:func:`local_date_and_timezone`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rootstep.agent_tools.project_docs import Instructions, instructions_message_text

REPLACEMENT_NOTICE = "These AGENTS.md instructions replace all previously provided AGENTS.md instructions."
REMOVAL_NOTICE = "The previously provided AGENTS.md instructions no longer apply."
AGENTS_MD_MARK = "# AGENTS.md instructions"
PERMISSIONS_MARK = "<permissions instructions>"
ENVIRONMENT_MARK = "<environment_context>"


@dataclass(frozen=True)
class EnvironmentFacts:
    environment_id: str
    cwd: str
    shell: str | None


@dataclass(frozen=True)
class TurnContext:
    """The facts of one turn. ``permissions`` None: the section is switched off
    (``include_permissions_instructions = false``); ``environments`` empty with
    ``include_environment = False`` likewise."""

    instructions: Instructions | None
    permissions: str | None
    environments: tuple[EnvironmentFacts, ...]
    current_date: str
    timezone: str
    filesystem: str | None
    include_environment: bool = True

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            "agents_md": {"directory": self.instructions.directory, "text": self.instructions.text}
            if self.instructions is not None else {},
        }
        if self.permissions is not None:
            snap["permissions"] = self.permissions
        if self.include_environment:
            snap["environments"] = {
                "environments": {e.environment_id: {"cwd": e.cwd, "shell": e.shell} for e in self.environments},
                "primary": self.environments[0].environment_id if self.environments else None,
                "current_date": self.current_date,
                "timezone": self.timezone,
                "filesystem": self.filesystem,
            }
        return snap


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _environment_lines(env: dict[str, Any], indent: str) -> str:
    out = f"{indent}<cwd>{_xml(env['cwd'])}</cwd>\n"
    if env.get("shell"):
        out += f"{indent}<shell>{_xml(env['shell'])}</shell>\n"
    return out


def render_environment(snapshot: dict[str, Any], changed: Sequence[str], gone: Sequence[str]) -> str:
    """The ``<environment_context>`` text telling ``changed`` (and ``gone``) environments; with
    several, each says whether it is the primary one (where the tools run)."""
    envs = snapshot["environments"]
    primary = snapshot.get("primary")
    body = "\n"
    legacy_single = len(envs) == 1 and not gone
    if legacy_single:
        if changed:
            body += _environment_lines(envs[changed[0]], "  ")
    elif changed or gone:
        body += "  <environments>\n"
        for env_id in sorted([*changed, *gone]):
            if env_id in gone:
                body += f'    <environment id="{_xml(env_id)}" status="unavailable" />\n'
            else:
                is_primary = "true" if env_id == primary else "false"
                body += f'    <environment id="{_xml(env_id)}" primary="{is_primary}">\n'
                body += _environment_lines(envs[env_id], "      ") + "    </environment>\n"
        body += "  </environments>\n"
    body += f"  <current_date>{_xml(snapshot['current_date'])}</current_date>\n"
    body += f"  <timezone>{_xml(snapshot['timezone'])}</timezone>\n"
    if snapshot.get("filesystem"):
        body += f"  {snapshot['filesystem']}\n"
    return f"{ENVIRONMENT_MARK}{body}</environment_context>"


# --- diffs ------------------------------------------------------------------------------------

# ``previous`` of a section: a dict/str (known), None (never told), or UNKNOWN (told, but the
# facts were not kept: a thread from before these snapshots).
UNKNOWN = object()


def _agents_md(current: TurnContext, previous: Any) -> str | None:
    snap = current.snapshot()["agents_md"]
    if isinstance(previous, dict) and previous == snap:
        return None
    may_hold = previous is UNKNOWN or (isinstance(previous, dict) and previous.get("text") is not None)
    if current.instructions is not None:
        text = current.instructions.text
        if may_hold:
            text = f"{REPLACEMENT_NOTICE}\n\n{text}"
        return instructions_message_text(Instructions(current.instructions.directory, text))
    if may_hold:
        return instructions_message_text(Instructions(None, REMOVAL_NOTICE))
    return None


def _permissions(current: TurnContext, previous: Any) -> str | None:
    if current.permissions is None or (isinstance(previous, str) and previous == current.permissions):
        return None
    return current.permissions


def _environments(current: TurnContext, previous: Any) -> str | None:
    if not current.include_environment:
        return None
    snap = current.snapshot()["environments"]
    before = previous if isinstance(previous, dict) else {"environments": {}}
    old_envs = before.get("environments") or {}
    changed = [
        env_id for env_id, env in snap["environments"].items()
        if env_id not in old_envs or not _same_environment(env, old_envs[env_id])
    ]
    gone = [env_id for env_id in old_envs if env_id not in snap["environments"]]
    others = any(snap.get(k) != before.get(k) for k in ("current_date", "timezone", "filesystem"))
    if not changed and not gone and not others:
        return None
    return render_environment(snap, changed, gone)


def _same_environment(now: dict[str, Any], then: dict[str, Any]) -> bool:
    shells_agree = now.get("shell") is None or then.get("shell") is None or now.get("shell") == then.get("shell")
    return now.get("cwd") == then.get("cwd") and shells_agree


def _message(role: str, texts: list[str]) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": t} for t in texts]}


def initial_items(current: TurnContext) -> list[dict[str, Any]]:
    """A thread's first context: the developer section, then the user sections together."""
    developer = [t for t in [_permissions(current, None)] if t]
    user = [t for t in [_agents_md(current, None), _environments(current, None)] if t]
    return ([_message("developer", developer)] if developer else []) + ([_message("user", user)] if user else [])


def update_items(current: TurnContext, previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The sections that changed since ``previous`` (a snapshot; None: told but not kept),
    consecutive sections of one role merged into one message."""
    def before(key: str) -> Any:
        return UNKNOWN if previous is None else previous.get(key)

    fragments = [
        ("user", _agents_md(current, before("agents_md"))),
        ("developer", _permissions(current, before("permissions"))),
        ("user", _environments(current, before("environments"))),
    ]
    messages: list[tuple[str, list[str]]] = []
    for role, text in fragments:
        if text is None:
            continue
        if messages and messages[-1][0] == role:
            messages[-1][1].append(text)
        else:
            messages.append((role, [text]))
    return [_message(role, texts) for role, texts in messages]


def history_holds_context(history: Sequence[dict[str, Any]]) -> bool:
    """Whether the history still carries a context message (compaction removes them)."""
    for item in history:
        if item.get("type") != "message" or item.get("role") not in ("user", "developer"):
            continue
        for part in item.get("content") or ():
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and text.startswith((ENVIRONMENT_MARK, PERMISSIONS_MARK, AGENTS_MD_MARK)):
                return True
    return False


def local_date_and_timezone() -> tuple[str, str]:
    """Today's date here and the IANA zone name (``Etc/UTC`` when it cannot be told), as 0.169
    reads them (the ``/etc/localtime`` link, then ``/etc/timezone``)."""
    zone = None
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            zone = target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    if zone is None:
        try:
            with open("/etc/timezone", encoding="utf-8") as handle:
                zone = handle.read().strip() or None
        except OSError:
            zone = None
    if zone is None:
        return time.strftime("%Y-%m-%d", time.gmtime()), "Etc/UTC"
    return time.strftime("%Y-%m-%d", time.localtime()), zone
