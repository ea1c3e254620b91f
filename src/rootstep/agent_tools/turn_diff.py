"""The turn's aggregated diff (``turn/diff/updated``): every file a turn's patches touched,
from its content when the turn first touched it to its content now, in 0.169's format.

The format is ``git diff``'s with the reference's choices: full 40-hex blob ids on the
``index`` line and no mode after them for a modified file, ``new file mode 100644`` /
``deleted file mode 100644`` for added / deleted files, three lines of context, paths relative
to the environment's display root (the thread's cwd; an outside path keeps its absolute
spelling after ``a/``), files sorted by that path, a file moved within the turn shown as one
``a/<old> b/<new>`` diff (no rename headers). Pure: fed with applied changes, never reads disk.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field

from rootstep.agent_tools.apply_patch.planner import FileChange
from rootstep.agent_tools.textdiff import unified_hunks

ZERO_OID = "0" * 40
REGULAR_FILE_MODE = "100644"


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class _Key:
    environment_id: str
    path: str


@dataclass
class TurnDiffTracker:
    """One per turn. ``display_roots``: environment id → the root paths are shown relative to."""

    display_roots: dict[str, str] = field(default_factory=dict)
    _baseline: dict[_Key, str] = field(default_factory=dict)
    _current: dict[_Key, str] = field(default_factory=dict)
    _origin: dict[_Key, _Key] = field(default_factory=dict)
    valid: bool = True

    # --- recording ----------------------------------------------------------------------------

    def track(self, environment_id: str, changes: tuple[FileChange, ...] | list[FileChange]) -> None:
        """Record the changes of one successfully applied patch."""
        if not self.valid:
            return
        for change in changes:
            key = _Key(environment_id, change.path)
            if change.kind == "add":
                self._add(key, change.new or "", change.overwritten)
            elif change.kind == "delete":
                self._delete(key, change.old or "")
            else:
                dest = _Key(environment_id, change.move_path) if change.move_path is not None else None
                self._update(key, dest, change.old or "", change.overwritten, change.new or "")

    def invalidate(self) -> None:
        """A write whose effect is not known exactly: 0.169 stops reporting the turn's diff."""
        self.valid = False

    def _first_touch(self, key: _Key, content: str | None) -> None:
        if key not in self._current and key not in self._baseline and content is not None:
            self._baseline[key] = content

    def _add(self, key: _Key, content: str, overwritten: str | None) -> None:
        self._origin.pop(key, None)
        self._first_touch(key, overwritten)
        self._current[key] = content

    def _delete(self, key: _Key, content: str) -> None:
        if self._current.pop(key, None) is None and key not in self._baseline:
            self._baseline[key] = content
        self._origin.pop(key, None)

    def _update(self, key: _Key, dest: _Key | None, old: str, overwritten: str | None, new: str) -> None:
        self._first_touch(key, old)
        if dest is None:
            self._current[key] = new
            return
        self._first_touch(dest, overwritten)
        origin = self._origin.pop(key, key)
        self._current.pop(key, None)
        self._current[dest] = new
        self._origin.pop(dest, None)
        if dest != origin:
            self._origin[dest] = origin

    # --- rendering ----------------------------------------------------------------------------

    def _display(self, key: _Key) -> str:
        root = self.display_roots.get(key.environment_id)
        shown = key.path
        if root is not None:
            root = root.rstrip("/") or "/"
            if key.path == root:
                shown = ""
            elif key.path.startswith(root.rstrip("/") + "/"):
                shown = key.path[len(root.rstrip("/")) + 1 :]
        if len(self.display_roots) > 1 and key.environment_id:
            shown = posixpath.join(key.environment_id, shown) if shown else key.environment_id
        return shown

    def _rename_pairs(self) -> dict[_Key, _Key]:
        pairs = {}
        for dest, origin in self._origin.items():
            if (dest == origin or origin in self._current or dest not in self._current
                    or origin not in self._baseline or dest in self._baseline):
                continue
            pairs[origin] = dest
        return pairs

    def unified_diff(self) -> str | None:
        """The aggregated diff, or None when nothing differs (or the tracker was invalidated)."""
        if not self.valid:
            return None
        pairs = self._rename_pairs()
        destinations = set(pairs.values())
        keys = sorted(set(self._baseline) | set(self._current), key=self._display)
        out: list[str] = []
        for key in keys:
            if key in destinations:
                continue
            right = pairs.get(key, key)
            rendered = self._render(key, self._baseline.get(key), right, self._current.get(right))
            if rendered:
                out.append(rendered if rendered.endswith("\n") else rendered + "\n")
        return "".join(out) or None

    def _render(self, left: _Key, old: str | None, right: _Key, new: str | None) -> str | None:
        if old == new:
            return None
        left_name, right_name = self._display(left), self._display(right)
        text = [f"diff --git a/{left_name} b/{right_name}\n"]
        if old is None:
            text.append(f"new file mode {REGULAR_FILE_MODE}\n")
        elif new is None:
            text.append(f"deleted file mode {REGULAR_FILE_MODE}\n")
        left_oid = git_blob_oid(old.encode()) if old is not None else ZERO_OID
        right_oid = git_blob_oid(new.encode()) if new is not None else ZERO_OID
        text.append(f"index {left_oid}..{right_oid}\n")
        text.append(f"--- {'a/' + left_name if old is not None else '/dev/null'}\n")
        text.append(f"+++ {'b/' + right_name if new is not None else '/dev/null'}\n")
        text.append(unified_hunks(old or "", new or "", context=3))
        return "".join(text)
