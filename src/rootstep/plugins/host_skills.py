"""Host skills: where ``skills/list`` looks for skills and what it reads from them.

For a cwd the *host* skill roots are ``<cwd>/.codex/skills`` and ``<dir>/.agents/skills`` for
every folder from the project root (nearest ancestor holding ``.git``) down to the cwd (scope
``repo``), ``$CODEX_HOME/skills`` and ``$HOME/.agents/skills`` (``user``), and
``$CODEX_HOME/skills/.system`` (``system``) — what codex 0.169 reads. SKILL.md parsing is
:func:`rootstep.plugins.skills.parse_skill` (one parser for plugin and host skills); the optional
``agents/openai.yaml`` beside it gives the interface and tool dependencies. A broken file becomes
an error entry, never a failure of the whole scan. :class:`SkillsCatalog` caches scans per cwd.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootstep.bounded_read import DEFAULT_READ_LIMIT, read_regular_text
from rootstep.plugins.skills import SKILL_FILE, SkillParseError, parse_skill
from rootstep.protocol.catalog import (
    SkillDependencies,
    SkillErrorInfo,
    SkillInterface,
    SkillMetadata,
    SkillScope,
    SkillToolDependency,
)
from rootstep.protocol.path_uri import PathUri

log = logging.getLogger(__name__)

PROJECT_ROOT_MARKERS = (".git",)
MAX_SCAN_DEPTH = 6  # levels below a skills root, as the reference walks
MAX_DIRS_PER_ROOT = 2000
METADATA_FILE = ("agents", "openai.yaml")
_SCOPE_RANK = {"repo": 0, "user": 1, "system": 2, "admin": 3}
# A repository is not trusted: its files are read as regular files only, within these limits
# (a SKILL.md linked to /dev/zero or a FIFO is skipped, one over the limit is an error entry,
# with codex 0.169's ``file is too large to read: limit is 536870912 bytes``). The optional
# ``agents/openai.yaml`` is parsed by a pure-Python YAML parser, so it gets a tighter bound;
# one that is too large, or not a regular file, is ignored like an unreadable one.
MAX_SKILL_BYTES = DEFAULT_READ_LIMIT
MAX_METADATA_BYTES = 16 * 1024 * 1024
_MAX_SHORT_FIELD = 64
_MAX_LONG_FIELD = 1024


# --- where skills live (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class SkillRoot:
    path: Path
    scope: SkillScope



def _yaml_error() -> type[Exception]:
    import yaml

    return yaml.YAMLError

def find_project_root(cwd: Path, markers: Sequence[str] = PROJECT_ROOT_MARKERS) -> Path:
    """The nearest ancestor of ``cwd`` (itself included) holding a marker; ``cwd`` if none."""
    for ancestor in (cwd, *cwd.parents):
        if any(os.path.lexists(ancestor / marker) for marker in markers):
            return ancestor
    return cwd


def dirs_from_root_to_cwd(cwd: Path, project_root: Path) -> list[Path]:
    """``project_root`` … ``cwd``, outermost first (just ``cwd`` when the root is not above it)."""
    chain = [cwd]
    for ancestor in cwd.parents:
        if chain[-1] == project_root:
            break
        chain.append(ancestor)
    if chain[-1] != project_root:
        chain = [cwd]
    return list(reversed(chain))


def skill_roots(cwd: Path, project_root: Path, codex_home: Path, home: Path | None) -> list[SkillRoot]:
    """The host roots for one cwd, highest precedence first, each path once (pure).

    The order is the reference's: the cwd's own ``.codex/skills`` (the 0.169 binary reads no
    ancestor's, unlike ``.agents/skills``), then the user roots, then ``.agents/skills`` from the
    project root down; duplicates keep the first.
    """
    dirs = dirs_from_root_to_cwd(cwd, project_root)
    roots = [SkillRoot(cwd / ".codex" / "skills", "repo")] if cwd / ".codex" != codex_home else []
    roots.append(SkillRoot(codex_home / "skills", "user"))
    if home is not None:
        roots.append(SkillRoot(home / ".agents" / "skills", "user"))
    roots.append(SkillRoot(codex_home / "skills" / ".system", "system"))
    roots.extend(SkillRoot(d / ".agents" / "skills", "repo") for d in dirs)
    seen: set[Path] = set()
    unique = []
    for root in roots:
        if root.path not in seen:
            seen.add(root.path)
            unique.append(root)
    return unique


# --- scanning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundSkill:
    """A parsed host skill; ``enabled`` is decided later from the config rules."""

    name: str
    description: str
    short_description: str | None
    interface: SkillInterface | None
    dependencies: SkillDependencies | None
    path: str
    scope: SkillScope


@dataclass(frozen=True)
class ScanOutcome:
    skills: tuple[FoundSkill, ...] = ()
    errors: tuple[SkillErrorInfo, ...] = ()


def find_skill_files(root: Path, *, follow_symlinks: bool) -> list[Path]:
    """Every ``SKILL.md`` under ``root``: hidden folders pruned, depth- and size-bounded.

    Directory symlinks are followed for user/repo roots (a symlinked skill folder is common)
    but each real folder is visited once, so a cycle cannot loop.
    """
    found: list[Path] = []
    if not root.is_dir():
        return found
    visited: set[str] = set()
    queue: list[tuple[Path, int]] = [(root, 0)]
    while queue and len(visited) < MAX_DIRS_PER_ROOT:
        folder, depth = queue.pop(0)
        real = os.path.realpath(folder)
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot scan skills folder %s: %s", folder, exc)
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
                is_file = entry.is_file()
            except OSError:
                continue
            if is_dir:
                if not entry.name.startswith(".") and depth + 1 <= MAX_SCAN_DEPTH:
                    queue.append((path, depth + 1))
            elif is_file and entry.name == SKILL_FILE:
                found.append(path)
    return found


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value if value and len(value) <= limit else None


def _icon(skill_dir: Path, value: Any) -> str | None:
    """Icons must be relative paths under the skill's ``assets/`` (the reference's rule)."""
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return None
    parts = [p for p in Path(value).parts if p != "."]
    if not parts or parts[0] != "assets" or ".." in parts:
        return None
    return str(skill_dir.joinpath(*parts))


def parse_skill_metadata(skill_dir: Path, data: Any) -> tuple[SkillInterface | None, SkillDependencies | None]:
    """``agents/openai.yaml`` → interface and tool dependencies (pure; invalid parts dropped)."""
    if not isinstance(data, Mapping):
        return None, None
    interface = None
    raw = data.get("interface")
    if isinstance(raw, Mapping):
        color = raw.get("brand_color")
        candidate = SkillInterface(
            display_name=_text(raw.get("display_name"), _MAX_SHORT_FIELD),
            short_description=_text(raw.get("short_description"), _MAX_LONG_FIELD),
            icon_small=_icon(skill_dir, raw.get("icon_small")),
            icon_large=_icon(skill_dir, raw.get("icon_large")),
            brand_color=color if isinstance(color, str) and _is_hex_color(color) else None,
            default_prompt=_text(raw.get("default_prompt"), _MAX_LONG_FIELD),
        )
        if candidate.model_dump(exclude_none=True):
            interface = candidate
    dependencies = None
    raw = data.get("dependencies")
    tools_raw = raw.get("tools") if isinstance(raw, Mapping) else None
    if isinstance(tools_raw, list):
        tools = []
        for tool in tools_raw:
            if not isinstance(tool, Mapping):
                continue
            kind, value = _text(tool.get("type"), _MAX_SHORT_FIELD), _text(tool.get("value"), _MAX_LONG_FIELD)
            if kind and value:
                tools.append(SkillToolDependency(
                    type=kind, value=value,
                    description=_text(tool.get("description"), _MAX_LONG_FIELD),
                    transport=_text(tool.get("transport"), _MAX_SHORT_FIELD),
                    command=_text(tool.get("command"), _MAX_LONG_FIELD),
                    url=_text(tool.get("url"), _MAX_LONG_FIELD),
                ))
        dependencies = SkillDependencies(tools=tools) if tools else None
    return interface, dependencies


def _is_hex_color(value: str) -> bool:
    return len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:])


def _read_metadata(skill_dir: Path) -> tuple[SkillInterface | None, SkillDependencies | None]:
    path = skill_dir.joinpath(*METADATA_FILE)
    try:
        import yaml

        data = yaml.safe_load(read_regular_text(str(path), MAX_METADATA_BYTES))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, _yaml_error()) as exc:  # optional file: fail open
        log.warning("ignoring %s: %s", path, exc)
        return None, None
    return parse_skill_metadata(skill_dir, data)


def load_skill(path: Path, scope: SkillScope) -> FoundSkill:
    """One SKILL.md through the shared parser. Raises :class:`SkillParseError` with the
    reference's message (``failed to read file: ...`` when unreadable)."""
    try:
        contents = read_regular_text(str(path), MAX_SKILL_BYTES)
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillParseError(f"failed to read file: {exc}") from exc
    # Host skills have no plugin namespace: parse with an empty one and drop the ":" prefix.
    parsed = parse_skill(contents, PathUri.from_native(str(path)), plugin_name="")
    interface, dependencies = _read_metadata(path.parent)
    return FoundSkill(
        name=parsed.name.split(":", 1)[1], description=parsed.description,
        short_description=parsed.short_description, interface=interface, dependencies=dependencies,
        path=str(path), scope=scope,
    )


def scan_roots(roots: Iterable[SkillRoot]) -> ScanOutcome:
    """Load every root; a skill reached twice (symlinks, overlapping roots) counts once, at
    its highest-precedence scope. Sorted like the reference: scope, name, path."""
    skills: dict[str, FoundSkill] = {}
    errors: list[SkillErrorInfo] = []
    for root in roots:
        root_path = Path(os.path.realpath(root.path))
        for file in find_skill_files(root_path, follow_symlinks=root.scope != "system"):
            real = Path(os.path.realpath(file))
            if str(real) in skills:
                continue
            try:
                skills[str(real)] = load_skill(real, root.scope)
            except SkillParseError as exc:
                if root.scope != "system":  # broken bundled skills are not the user's problem
                    errors.append(SkillErrorInfo(path=str(real), message=str(exc)))
    ordered = sorted(skills.values(), key=lambda s: (_SCOPE_RANK[s.scope], s.name, s.path))
    return ScanOutcome(tuple(ordered), tuple(errors))


# --- enabled / disabled (pure) -------------------------------------------------------------------


def disabled_paths(skills: Sequence[FoundSkill], raw_config: Mapping[str, Any]) -> set[str]:
    """``[[skills.config]]`` rules (``path`` or ``name``, ``enabled``) in file order; a later
    rule for the same selector replaces an earlier one, as in the reference."""
    section = raw_config.get("skills")
    entries = section.get("config") if isinstance(section, Mapping) else None
    rules: dict[tuple[str, str], bool] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("enabled"), bool):
            continue
        path, name = entry.get("path"), entry.get("name")
        if isinstance(path, str) and path and name is None:
            selector = ("path", os.path.realpath(os.path.expanduser(path)))
        elif isinstance(name, str) and name.strip() and path is None:
            selector = ("name", name.strip())
        else:
            continue
        rules.pop(selector, None)
        rules[selector] = entry["enabled"]
    disabled: set[str] = set()
    for (kind, value), enabled in rules.items():
        paths = [value] if kind == "path" else [s.path for s in skills if s.name == value]
        for path in paths:
            (disabled.discard if enabled else disabled.add)(path)
    return disabled


def to_wire(skill: FoundSkill, disabled: set[str]) -> SkillMetadata:
    return SkillMetadata(
        name=skill.name, description=skill.description, short_description=skill.short_description,
        interface=skill.interface, dependencies=skill.dependencies, path=skill.path, scope=skill.scope,
        enabled=skill.path not in disabled,
    )


@dataclass
class SkillsCatalog:
    """Per-cwd scan cache of one app-server."""

    codex_home: Path
    home: Path | None
    cache: dict[Path, ScanOutcome] = field(default_factory=dict)

    def scan(self, cwd: Path, force_reload: bool) -> ScanOutcome:
        if not force_reload and cwd in self.cache:
            return self.cache[cwd]
        roots = skill_roots(cwd, find_project_root(cwd), self.codex_home, self.home)
        outcome = scan_roots(roots)
        self.cache[cwd] = outcome
        return outcome
