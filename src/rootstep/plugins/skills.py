"""``skills/<dir>/SKILL.md`` — a plugin's skills (spec §4.6).

The YAML frontmatter gives ``name`` (defaults to the directory name) and a required
``description``. The model-visible name is ``<manifest name>:<skill name>`` (the manifest *name*,
never the display name). The body is kept so a ``$plugin:skill`` mention can be answered without
another round trip to the executor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rootstep.protocol.path_uri import PathUri

SKILL_FILE = "SKILL.md"
MAX_NAME_LEN = 64
MAX_QUALIFIED_NAME_LEN = 128
MAX_DESCRIPTION_LEN = 1024


class SkillParseError(ValueError):
    """Missing/invalid frontmatter, or a missing or over-long field."""


@dataclass(frozen=True)
class PluginSkill:
    name: str  # qualified: "<plugin name>:<skill name>"
    description: str
    short_description: str | None
    path: PathUri  # the SKILL.md file
    contents: str  # the whole SKILL.md text



def _yaml() -> Any:
    """PyYAML, loaded with the first skill parsed (not with every process that may never read one)."""
    import yaml

    return yaml

def _single_line(value: str) -> str:
    return " ".join(value.split())


def _frontmatter(contents: str) -> str | None:
    lines = contents.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    body: list[str] = []
    for line in lines[1:]:
        if line.strip() == "---":
            return "\n".join(body) if body else None
        body.append(line)
    return None


def _repair_scalars(frontmatter: str) -> str | None:
    """Quote plain ``key: value: with colons`` lines, as third-party skills often write them."""
    changed = False
    out = []
    for line in frontmatter.split("\n"):
        match = re.match(r"^([A-Za-z0-9_-]+):\s+(.*\S)\s*$", line)
        if match and ": " in match.group(2) and match.group(2)[0] not in "\"'[{|>":
            quoted = _yaml().safe_dump(match.group(2), default_style='"').strip()
            out.append(f"{match.group(1)}: {quoted}")
            changed = True
        else:
            out.append(line)
    return "\n".join(out) if changed else None


def parse_skill(contents: str, path: PathUri, plugin_name: str) -> PluginSkill:
    """Parse one SKILL.md. Raises :class:`SkillParseError`."""
    frontmatter = _frontmatter(contents)
    if frontmatter is None:
        raise SkillParseError("missing YAML frontmatter delimited by ---")
    try:
        data: Any = _yaml().safe_load(frontmatter)
    except _yaml().YAMLError as err:
        repaired = _repair_scalars(frontmatter)
        try:
            data = _yaml().safe_load(repaired) if repaired else None
        except _yaml().YAMLError:
            data = None
        if data is None:
            raise SkillParseError(f"invalid YAML: {err}") from err
    if not isinstance(data, dict):
        raise SkillParseError("invalid YAML: frontmatter must be a mapping")
    raw_name = data.get("name")
    name = _single_line(raw_name) if isinstance(raw_name, str) else ""
    if not name:
        parent = path.parent
        name = _single_line(parent.basename or "") if parent else ""
        name = name or "skill"
    description = data.get("description")
    description = _single_line(description) if isinstance(description, str) else ""
    metadata = data.get("metadata")
    short = metadata.get("short-description") if isinstance(metadata, dict) else None
    short = _single_line(short) if isinstance(short, str) else None
    if len(name) > MAX_NAME_LEN:
        raise SkillParseError(f"invalid name: exceeds maximum length of {MAX_NAME_LEN} characters")
    if not description:
        raise SkillParseError("missing field `description`")
    if len(description) > MAX_DESCRIPTION_LEN:
        raise SkillParseError(f"invalid description: exceeds maximum length of {MAX_DESCRIPTION_LEN} characters")
    qualified = f"{plugin_name}:{name}"
    if len(qualified) > MAX_QUALIFIED_NAME_LEN:
        raise SkillParseError(f"invalid qualified name: exceeds maximum length of {MAX_QUALIFIED_NAME_LEN} characters")
    return PluginSkill(qualified, description, short or None, path, contents)


def is_skill_file_under(path: PathUri, skill_dirs: tuple[PathUri, ...]) -> bool:
    """``<dir>/<one segment>/SKILL.md`` for one of the plugin's skill directories."""
    if path.basename != SKILL_FILE or path.parent is None or path.parent.parent is None:
        return False
    return path.parent.parent in skill_dirs
