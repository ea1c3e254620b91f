"""Skills and plugin guidance of a thread's *ready* selected roots, as model context (spec §4.6).

Pure functions of (the step's ready plugin packages, the thread's history): they return the
items to add to the history before the step's model request.

* ``<plugins_instructions>`` — a developer message added once per thread, the first time a
  plugin package is available in a step (it stays in the history, so a resumed thread does not
  get a second one).
* ``<skills_instructions>`` — the catalog of the ready roots' skills (model-visible name
  ``<manifest name>:<skill name>``); a new message whenever the catalog changes, and
  ``No selected-environment skills are currently available.`` when a catalog was shown
  before and no root with skills is ready now.
* ``$plugin:skill`` in new user input injects a user message ``<skill>…</skill>`` with the
  SKILL.md body of the ready root's skill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from rootstep.plugins.discovery import PluginPackage
from rootstep.plugins.skills import PluginSkill

PLUGINS_OPEN = "<plugins_instructions>"
SKILLS_OPEN = "<skills_instructions>"
NO_SKILLS = "No selected-environment skills are currently available."
MENTION_RE = re.compile(r"\$([A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+)")


def _message(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def _texts(item: dict[str, Any]) -> list[str]:
    content = item.get("content")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [c.get("text", "") for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]


def _developer_texts(history: Iterable[dict[str, Any]], prefix: str) -> list[str]:
    out = []
    for item in history:
        if item.get("type") == "message" and item.get("role") == "developer":
            out += [t for t in _texts(item) if t.startswith(prefix)]
    return out


def ready_skills(packages: Sequence[PluginPackage]) -> list[tuple[PluginPackage, PluginSkill]]:
    """Skills of the ready packages in selection order; the first root wins a name."""
    seen: set[str] = set()
    out = []
    for package in packages:
        for skill in package.skills:
            if skill.name not in seen:
                seen.add(skill.name)
                out.append((package, skill))
    return out


def _location(package: PluginPackage, skill: PluginSkill) -> str:
    root, path = str(package.root).rstrip("/"), str(skill.path)
    relative = path[len(root) + 1 :] if path.startswith(root + "/") else path
    if relative.endswith("/SKILL.md"):
        relative = relative[: -len("/SKILL.md")]
    return f"executor package: {package.environment_id}/{relative}"


def plugins_instructions(packages: Sequence[PluginPackage]) -> str:
    lines = [
        PLUGINS_OPEN,
        "## Plugins",
        "Plugins are bundles of skills, MCP servers and apps selected for this thread. Their MCP tools",
        "are available while the environment that holds the plugin is available.",
        "### Available plugins",
    ]
    lines += [f"- `{p.display_name}` (id `{p.plugin_id}`, environment `{p.environment_id}`)" for p in packages]
    lines.append("</plugins_instructions>")
    return "\n".join(lines)


def skills_catalog(skills: Sequence[tuple[PluginPackage, PluginSkill]]) -> str:
    if not skills:
        return f"{SKILLS_OPEN}\n{NO_SKILLS}\n</skills_instructions>"
    lines = [
        SKILLS_OPEN,
        "## Skills",
        "A skill is a set of instructions stored in a `SKILL.md` file. Mention a skill as `$<name>` to use it.",
        "### Available skills",
    ]
    lines += [f"- {s.name}: {s.description} ({_location(p, s)})" for p, s in skills]
    lines.append("</skills_instructions>")
    return "\n".join(lines)


def skill_injection(skill: PluginSkill) -> str:
    return f"<skill>\n<name>{skill.name}</name>\n<path>{skill.path}</path>\n{skill.contents}\n</skill>"


def context_items(
    packages: Sequence[PluginPackage],
    plugins_available: bool,
    history: Sequence[dict[str, Any]],
    new_user_items: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The items to append before this step's request (empty when nothing changed)."""
    out: list[dict[str, Any]] = []
    if plugins_available and not _developer_texts(history, PLUGINS_OPEN):
        out.append(_message("developer", plugins_instructions(packages)))
    skills = ready_skills(packages)
    shown = _developer_texts(history, SKILLS_OPEN)
    catalog = skills_catalog(skills)
    if (skills or shown) and (not shown or shown[-1] != catalog):
        out.append(_message("developer", catalog))
    by_name = {s.name: s for _p, s in skills}
    injected: set[str] = set()
    for item in new_user_items:
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        for text in _texts(item):
            for name in MENTION_RE.findall(text):
                skill = by_name.get(name)
                if skill is not None and name not in injected:
                    injected.add(name)
                    out.append(_message("user", skill_injection(skill)))
    return out
