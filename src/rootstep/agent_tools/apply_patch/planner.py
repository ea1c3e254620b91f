"""Patch + current file contents → the new contents of every touched file, or why not.

Pure: the caller reads the files (:func:`paths_to_read`) and passes what it found; nothing here
touches a filesystem, so a plan can be checked completely before anything is written. The
rules are 0.169's: an update reads the file, drops the newline-terminated last empty line,
finds each chunk in order (``@@ context`` first, then the old lines, see :mod:`.seek`), replaces
bottom-up and ends the result with a newline; a chunk without old lines appends at the end; an
add writes (or overwrites) the file; a delete needs a readable file. Hunks apply in order, each
seeing the result of the previous ones.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from rootstep.agent_tools.apply_patch.model import AddFile, DeleteFile, Patch, UpdateChunk, UpdateFile, affected_path
from rootstep.agent_tools.apply_patch.seek import seek_sequence


@dataclass(frozen=True)
class ReadFailure:
    """Why a path could not be read as text; ``message`` is the OS wording
    (``No such file or directory (os error 2)``, ``path `/x` is not a file``)."""

    message: str
    not_found: bool = False


FileRead = str | ReadFailure


class PatchVerificationError(ValueError):
    """The patch does not fit the files; ``str()`` is 0.169's text (after ``verification failed: ``)."""


@dataclass(frozen=True)
class FileChange:
    """One file the patch changes. ``old`` is None for a new file, ``new`` None for a deletion.

    ``overwritten`` is what an add (or a move's destination) replaced, if anything.
    """

    path: str
    kind: str  # "add" | "delete" | "update"
    old: str | None
    new: str | None
    move_path: str | None = None
    overwritten: str | None = None


@dataclass(frozen=True)
class PatchPlan:
    cwd: str
    changes: tuple[FileChange, ...]
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    final: Mapping[str, str | None] = field(default_factory=dict)  # every touched path → end state
    initial: Mapping[str, str | None] = field(default_factory=dict)  # … → its text before (None: absent)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        """The applier's stdout: ``Success. Updated the following files:`` then A/M/D lines."""
        lines = ["Success. Updated the following files:"]
        lines += [f"A {p}" for p in self.added] + [f"M {p}" for p in self.modified] + [f"D {p}" for p in self.deleted]
        return "\n".join(lines) + "\n"

    def writes(self) -> dict[str, str]:
        """Paths whose content must become the given text."""
        return {p: c for p, c in self.final.items() if c is not None and c != self.initial.get(p)}

    def removals(self) -> list[str]:
        """Paths that existed and must be gone."""
        return [p for p, c in self.final.items() if c is None and self.initial.get(p) is not None]


def resolve(cwd: str, path: str) -> str:
    """A patch path on the environment's side: absolute as given, or joined to ``cwd``."""
    return posixpath.join(cwd, path)


def paths_to_read(patch: Patch, cwd: str) -> list[str]:
    """Every path whose current content the plan (and a rollback) needs, in first-use order."""
    seen: dict[str, None] = {}
    for hunk in patch.hunks:
        seen.setdefault(resolve(cwd, hunk.path))
        if isinstance(hunk, UpdateFile) and hunk.move_path is not None:
            seen.setdefault(resolve(cwd, hunk.move_path))
    return list(seen)


def _find_replacements(
    lines: list[str], path: str, chunks: tuple[UpdateChunk, ...]
) -> list[tuple[int, int, list[str]]]:
    replacements: list[tuple[int, int, list[str]]] = []
    line_index = 0
    for chunk in chunks:
        if chunk.context is not None:
            found = seek_sequence(lines, [chunk.context], line_index, False)
            if found is None:
                raise PatchVerificationError(f"Failed to find context '{chunk.context}' in {path}")
            line_index = found + 1
        if not chunk.old_lines:
            at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
            replacements.append((at, 0, list(chunk.new_lines)))
            continue
        pattern, new_slice = list(chunk.old_lines), list(chunk.new_lines)
        found = seek_sequence(lines, pattern, line_index, chunk.end_of_file)
        if found is None and pattern[-1] == "":
            pattern = pattern[:-1]
            if new_slice and new_slice[-1] == "":
                new_slice = new_slice[:-1]
            found = seek_sequence(lines, pattern, line_index, chunk.end_of_file)
        if found is None:
            raise PatchVerificationError(f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old_lines))
        replacements.append((found, len(pattern), new_slice))
        line_index = found + len(pattern)
    replacements.sort(key=lambda r: r[0])
    return replacements


def updated_text(original: str, path: str, chunks: tuple[UpdateChunk, ...]) -> str:
    """The file after the chunks (always newline-terminated)."""
    lines = original.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for start, old_len, new_segment in reversed(_find_replacements(lines, path, chunks)):
        del lines[start : start + old_len]
        lines[start:start] = new_segment
    if not lines or lines[-1] != "":
        lines.append("")
    return "\n".join(lines)


def plan_patch(patch: Patch, cwd: str, reads: Mapping[str, FileRead]) -> PatchPlan:
    """Check every hunk against ``reads`` (path → text or :class:`ReadFailure`)."""
    state: dict[str, FileRead] = dict(reads)
    initial: dict[str, str | None] = {}
    by_path: dict[str, FileChange] = {}
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []

    def current(path: str) -> FileRead:
        value = state.get(path)
        if value is None:
            raise KeyError(f"{path} was not read")
        return value

    def remember(path: str) -> None:
        if path not in initial:
            value = current(path)
            initial[path] = value if isinstance(value, str) else None

    for hunk in patch.hunks:
        path = resolve(cwd, hunk.path)
        if isinstance(hunk, AddFile):
            remember(path)
            previous = current(path)
            by_path[path] = FileChange(path, "add", None, hunk.contents,
                                       overwritten=previous if isinstance(previous, str) else None)
            state[path] = hunk.contents
            added.append(hunk.path)
        elif isinstance(hunk, DeleteFile):
            remember(path)
            content = current(path)
            if isinstance(content, ReadFailure):
                raise PatchVerificationError(f"Failed to read {path}: {content.message}")
            by_path[path] = FileChange(path, "delete", content, None)
            state[path] = ReadFailure("No such file or directory (os error 2)", not_found=True)
            deleted.append(hunk.path)
        else:
            remember(path)
            content = current(path)
            if isinstance(content, ReadFailure):
                raise PatchVerificationError(f"Failed to read file to update {path}: {content.message}")
            new = updated_text(content, path, hunk.chunks)
            if hunk.move_path is not None:
                dest = resolve(cwd, hunk.move_path)
                remember(dest)
                previous = current(dest)
                by_path[path] = FileChange(path, "update", content, new, move_path=dest,
                                           overwritten=previous if isinstance(previous, str) else None)
                state[dest] = new
                if dest != path:
                    state[path] = ReadFailure("No such file or directory (os error 2)", not_found=True)
            else:
                by_path[path] = FileChange(path, "update", content, new)
                state[path] = new
            modified.append(affected_path(hunk))
    final = {p: (v if isinstance(v, str) else None) for p, v in state.items() if p in initial}
    return PatchPlan(cwd, tuple(by_path.values()), tuple(added), tuple(modified), tuple(deleted), final, initial)
