"""Project instructions: the ``AGENTS.md`` files the model reads, found as 0.169 finds them.

For each selected environment, through that environment's filesystem (local or an executor):
the project root is the nearest ancestor of the cwd holding a marker (``project_root_markers``,
default ``.git``; none found: the cwd alone; an empty list: the cwd alone); every folder from
that root down to the cwd contributes its first existing ``AGENTS.override.md``, ``AGENTS.md``
or ``project_doc_fallback_filenames`` entry, read under a shared ``project_doc_max_bytes`` budget
(default 32 KiB; 0 disables them). ``$CODEX_HOME/AGENTS.override.md`` (else ``AGENTS.md``) comes
first, as the user's own instructions.

:func:`render_instructions` joins them as 0.169 does: ``\\n\\n``, with a ``--- project-doc ---``
marker where user instructions give way to project ones, and — when two environments
contribute — a ``for `<env>` with root <cwd>`` label per environment and no directory in the
``# AGENTS.md instructions`` header.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio

from rootstep.environments.local import LocalEnvironment
from rootstep.environments.local_fs import metadata, read_file

log = logging.getLogger(__name__)

DEFAULT_FILENAME = "AGENTS.md"
OVERRIDE_FILENAME = "AGENTS.override.md"
DEFAULT_MAX_BYTES = 32 * 1024
DEFAULT_ROOT_MARKERS = (".git",)
PROJECT_DOC_SEPARATOR = "\n\n--- project-doc ---\n\n"


@dataclass(frozen=True)
class DocsSettings:
    """The config keys that shape discovery."""

    max_bytes: int = DEFAULT_MAX_BYTES
    fallback_filenames: tuple[str, ...] = ()
    root_markers: tuple[str, ...] = DEFAULT_ROOT_MARKERS

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> DocsSettings:
        max_bytes = raw.get("project_doc_max_bytes", DEFAULT_MAX_BYTES)
        fallback = raw.get("project_doc_fallback_filenames") or ()
        markers = raw.get("project_root_markers", DEFAULT_ROOT_MARKERS)
        return cls(
            max_bytes=max_bytes if isinstance(max_bytes, int) and max_bytes >= 0 else DEFAULT_MAX_BYTES,
            fallback_filenames=(
                tuple(f for f in fallback if isinstance(f, str) and f) if isinstance(fallback, list) else ()
            ),
            root_markers=(
                tuple(m for m in markers if isinstance(m, str))
                if isinstance(markers, (list, tuple))
                else DEFAULT_ROOT_MARKERS
            ),
        )

    def candidates(self) -> list[str]:
        names = [OVERRIDE_FILENAME, DEFAULT_FILENAME]
        names += [n for n in self.fallback_filenames if n not in names]
        return names


@dataclass(frozen=True)
class ProjectDoc:
    environment_id: str
    cwd: str
    contents: str


@dataclass(frozen=True)
class Instructions:
    """What the ``# AGENTS.md instructions`` message says (``directory`` None: no ``for``)."""

    directory: str | None
    text: str


# Discovery is a generator of filesystem questions — ``("meta", path)`` → ``FileMetadata | None``,
# ``("read", path)`` → bytes — so one algorithm serves an executor (each question a request) and
# this machine (every question answered in one worker thread).
Question = tuple[str, str]


def _discover(cwd: str, settings: DocsSettings, budget: list[int]) -> Generator[Question, Any, list[str]]:
    """The contents of the AGENTS.md files for ``cwd``, root first."""
    if settings.max_bytes == 0:
        return []
    root = None
    if settings.root_markers:
        folder = posixpath.normpath(cwd)
        while root is None:
            for marker in settings.root_markers:
                if (yield ("meta", posixpath.join(folder, marker))) is not None:
                    root = folder
                    break
            parent = posixpath.dirname(folder)
            if root is None and parent == folder:
                break
            folder = parent
    found: list[str] = []
    for folder in _folders(root, cwd):
        if budget[0] <= 0:
            break
        for name in settings.candidates():
            path = posixpath.join(folder, name)
            meta = yield ("meta", path)
            if meta is None or not meta.is_file:
                continue
            data = (yield ("read", path))[: budget[0]]
            text = data.decode("utf-8", "replace")
            if text.strip():
                found.append(text)
                budget[0] -= len(data)
            break
    return found


def _folders(root: str | None, cwd: str) -> list[str]:
    """From the root down to the cwd (just the cwd without a root)."""
    cwd = posixpath.normpath(cwd)
    if root is None:
        return [cwd]
    out = [cwd]
    while out[-1] != root:
        parent = posixpath.dirname(out[-1])
        if parent == out[-1]:
            break
        out.append(parent)
    return out[::-1]


def _git_root(cwd: str) -> Generator[Question, Any, str | None]:
    folder = posixpath.normpath(cwd)
    while True:
        if (yield ("meta", posixpath.join(folder, ".git"))) is not None:
            return folder
        parent = posixpath.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _answer_locally(steps: Generator[Question, Any, Any]) -> Any:
    """Run a discovery against this machine's filesystem (blocking: call in a worker thread)."""
    answer: Any = None
    try:
        while True:
            kind, path = steps.send(answer)
            if kind == "meta":
                try:
                    answer = metadata(path).to_file_metadata()
                except (FileNotFoundError, NotADirectoryError):
                    answer = None
            else:
                answer = read_file(path)
    except StopIteration as done:
        return done.value


async def _answer(env: Any, steps: Generator[Question, Any, Any]) -> Any:
    """Run a discovery through an environment (a local one in a single worker thread)."""
    if isinstance(env, LocalEnvironment):
        return await anyio.to_thread.run_sync(_answer_locally, steps)
    answer: Any = None
    try:
        while True:
            kind, path = steps.send(answer)
            answer = await (env.get_metadata(path) if kind == "meta" else env.read_file(path))
    except StopIteration as done:
        return done.value


def _both(
    cwd: str, settings: DocsSettings, budget: list[int]
) -> Generator[Question, Any, tuple[str | None, list[str]]]:
    root = yield from _git_root(cwd)
    found = yield from _discover(cwd, settings, budget)
    return root, found


async def git_root(env: Any, cwd: str) -> str | None:
    """The nearest ancestor of ``cwd`` holding ``.git`` (the turn diff's display root)."""
    return cast("str | None", await _answer(env, _git_root(cwd)))


async def project_docs(
    env: Any, environment_id: str, cwd: str, settings: DocsSettings, budget: list[int]
) -> list[ProjectDoc]:
    """The AGENTS.md files of one environment, root first; ``budget`` ([bytes left]) is shared
    by every environment of the turn."""
    found = await _answer(env, _discover(cwd, settings, budget))
    return [ProjectDoc(environment_id, cwd, text) for text in found]


async def git_root_and_docs(env: Any, environment_id: str, cwd: str, settings: DocsSettings,
                            budget: list[int]) -> tuple[str | None, list[ProjectDoc]]:
    """:func:`git_root` and :func:`project_docs` in one pass (one worker-thread hop locally)."""
    root, found = await _answer(env, _both(cwd, settings, budget))
    return root, [ProjectDoc(environment_id, cwd, text) for text in found]


def user_doc(codex_home: Path) -> str | None:
    """``$CODEX_HOME/AGENTS.override.md`` or ``AGENTS.md`` (blank counts as none)."""
    for name in (OVERRIDE_FILENAME, DEFAULT_FILENAME):
        try:
            text = (codex_home / name).read_text("utf-8", "replace")
        except OSError:
            continue
        return text if text.strip() else None
    return None


def render_instructions(user: str | None, docs: Sequence[ProjectDoc]) -> Instructions | None:
    """The model-visible text (None when there is nothing to say). Pure."""
    if user is None and not docs:
        return None
    environments = list(dict.fromkeys(d.environment_id for d in docs))
    out: list[str] = []
    if len(environments) > 1:
        if user is not None:
            out.append(user)
        previous: tuple[str, str] | None = None
        for doc in docs:
            if out:
                out.append("\n\n")
            if previous != (doc.environment_id, doc.cwd):
                out.append(f"for `{doc.environment_id}` with root {doc.cwd}\n\n")
            out.append(doc.contents)
            previous = (doc.environment_id, doc.cwd)
        return Instructions(None, "".join(out))
    if user is not None:
        out.append(user)
    for index, doc in enumerate(docs):
        if out:
            out.append(PROJECT_DOC_SEPARATOR if index == 0 and user is not None else "\n\n")
        out.append(doc.contents)
    return Instructions(docs[0].cwd if docs else None, "".join(out))


def instructions_message_text(instructions: Instructions) -> str:
    directory = f" for {instructions.directory}" if instructions.directory is not None else ""
    return f"# AGENTS.md instructions{directory}\n\n<INSTRUCTIONS>\n{instructions.text}\n</INSTRUCTIONS>"
