"""Applying a patch through an ``Environment``'s filesystem (local, or an executor's ``fs/*``).

Two phases. :func:`verify_patch` reads every path the patch names and plans the whole result in
memory (:mod:`.planner`): any error there leaves the tree untouched. :func:`commit_plan` then
writes all-or-nothing as far as the filesystem allows:

1. *stage* — each new content goes to a temporary sibling (an updated file's temp starts as a
   copy of it, so its permission bits survive), missing parent directories are created;
2. *commit* — each temp is renamed over its target (atomic per file), then deletions happen;
3. on any failure, what was committed is restored from the contents read in phase one, temps
   and created directories are removed, and :class:`PatchWriteError` carries 0.169's message.

An executor without ``fs/rename`` (the 0.169 exec-server) gets in-place writes in the commit
step instead, with the same rollback.
"""

from __future__ import annotations

import posixpath
import secrets
from dataclasses import dataclass

from rootstep.agent_tools.apply_patch.model import Patch
from rootstep.agent_tools.apply_patch.parser import parse_patch
from rootstep.agent_tools.apply_patch.planner import FileRead, PatchPlan, ReadFailure, paths_to_read, plan_patch
from rootstep.environments.base import Environment, RenameUnsupported

NOT_FOUND_TEXT = "No such file or directory (os error 2)"


class PatchWriteError(OSError):
    """Writing failed (and was rolled back); ``str()`` is 0.169's stderr line."""

    def __init__(self, message: str, *, rolled_back: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.rolled_back = rolled_back

    def __str__(self) -> str:
        return self.message


def os_error_text(exc: BaseException) -> str:
    """``No such file or directory (os error 2)``: the executor's wording, local or remote."""
    if isinstance(exc, OSError) and exc.errno is not None and isinstance(exc.strerror, str) and exc.strerror:
        return exc.strerror if "(os error" in exc.strerror else f"{exc.strerror} (os error {exc.errno})"
    return str(exc)


async def read_text(env: Environment, path: str) -> FileRead:
    """A file's text, or why it is not readable (in the executor's words)."""
    try:
        meta = await env.get_metadata(path)
    except OSError as exc:
        return ReadFailure(os_error_text(exc))
    if meta is None:
        return ReadFailure(NOT_FOUND_TEXT, not_found=True)
    if meta.is_directory or not meta.is_file:
        return ReadFailure(f"path `{path}` is not a file")
    try:
        data = await env.read_file(path)
    except FileNotFoundError:
        return ReadFailure(NOT_FOUND_TEXT, not_found=True)
    except OSError as exc:
        return ReadFailure(os_error_text(exc))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ReadFailure("stream did not contain valid UTF-8")


async def verify_patch(env: Environment, patch: Patch | str, cwd: str) -> PatchPlan:
    """Parse (if text) and plan against the environment's current files.

    Raises ``PatchParseError`` or ``PatchVerificationError``; writes nothing.
    """
    if isinstance(patch, str):
        patch = parse_patch(patch)
    reads = {path: await read_text(env, path) for path in paths_to_read(patch, cwd)}
    return plan_patch(patch, cwd, reads)


def _temp_name(path: str) -> str:
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.rootstep-patch-{secrets.token_hex(4)}.tmp")


@dataclass
class _Commit:
    env: Environment
    plan: PatchPlan
    atomic: bool = True

    def __post_init__(self) -> None:
        self.temps: dict[str, str] = {}
        self.created_dirs: list[str] = []
        self.written: list[str] = []
        self.removed: list[str] = []
        self.move_sources = {c.path for c in self.plan.changes if c.move_path is not None and c.move_path != c.path}

    async def _ensure_parent(self, path: str) -> None:
        parent = posixpath.dirname(path)
        missing: list[str] = []
        while parent and parent != "/":
            try:
                if await self.env.get_metadata(parent) is not None:
                    break
            except OSError:
                break  # e.g. an ancestor is a file: the write itself will fail and say so
            missing.append(parent)
            parent = posixpath.dirname(parent)
        for directory in reversed(missing):
            await self.env.create_directory(directory, recursive=False)
            self.created_dirs.append(directory)

    async def stage(self) -> None:
        for path, content in self.plan.writes().items():
            try:
                await self._ensure_parent(path)
            except OSError:
                raise PatchWriteError(f"Failed to create parent directories for {path}") from None
            if not self.atomic:
                continue
            temp = _temp_name(path)
            try:
                if self.plan.initial.get(path) is not None:
                    await self.env.copy_file(path, temp)
                self.temps[path] = temp
                await self.env.write_file(temp, content.encode())
            except OSError:
                raise PatchWriteError(f"Failed to write file {path}") from None

    async def commit(self) -> None:
        for path, content in self.plan.writes().items():
            try:
                if self.atomic:
                    await self.env.rename(self.temps[path], path)
                    del self.temps[path]
                else:
                    await self.env.write_file(path, content.encode())
            except OSError:
                raise PatchWriteError(f"Failed to write file {path}") from None
            self.written.append(path)
        for path in self.plan.removals():
            try:
                await self.env.remove(path, recursive=False, force=False)
            except OSError:
                verb = "Failed to remove original" if path in self.move_sources else "Failed to delete file"
                raise PatchWriteError(f"{verb} {path}") from None
            self.removed.append(path)

    async def _restore(self, path: str, content: str) -> None:
        if self.atomic:
            temp = _temp_name(path)
            await self.env.write_file(temp, content.encode())
            await self.env.rename(temp, path)
        else:
            await self.env.write_file(path, content.encode())

    async def rollback(self) -> bool:
        """Undo what was done; False when something could not be undone."""
        clean = True
        for path in reversed(self.removed):
            try:
                await self._restore(path, self.plan.initial[path] or "")
            except OSError:
                clean = False
        for path in reversed(self.written):
            original = self.plan.initial.get(path)
            try:
                if original is None:
                    await self.env.remove(path, force=True)
                else:
                    await self._restore(path, original)
            except OSError:
                clean = False
        for temp in self.temps.values():
            try:
                exists = await self.env.get_metadata(temp) is not None
            except OSError:
                exists = False  # e.g. its parent is a file: the temp never existed
            if exists:
                try:
                    await self.env.remove(temp, force=True)
                except OSError:
                    clean = False
        for directory in reversed(self.created_dirs):
            try:
                await self.env.remove(directory, recursive=False, force=True)
            except OSError:
                clean = False
        return clean


async def commit_plan(env: Environment, plan: PatchPlan) -> None:
    """Write a verified plan all-or-nothing; raises :class:`PatchWriteError` after rolling back."""
    job = _Commit(env, plan)
    try:
        await job.stage()
        try:
            await job.commit()
        except RenameUnsupported:
            # No atomic rename on this executor: nothing is committed yet; write in place.
            await job.rollback()
            job = _Commit(env, plan, atomic=False)
            await job.stage()
            await job.commit()
    except PatchWriteError as exc:
        exc.rolled_back = await job.rollback()
        raise


async def apply_patch_text(env: Environment, patch: Patch | str, cwd: str) -> PatchPlan:
    """Verify then commit; the plan describes what was written."""
    plan = await verify_patch(env, patch, cwd)
    await commit_plan(env, plan)
    return plan
