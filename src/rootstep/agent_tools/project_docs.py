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


# Discovery is a generator of batches of filesystem questions — ``("meta", path)`` →
# ``FileMetadata | None``, ``("read", path)`` → bytes — answered as a list in the same order, so
# one algorithm serves an executor (a batch's requests in flight together: three round trips
# whatever the depth of the cwd) and this machine (every batch answered in one worker thread).
Question = tuple[str, str]
Steps = Generator[list[Question], list[Any] | None, Any]


def _ancestors(cwd: str) -> list[str]:
    """The cwd and each folder above it, nearest first."""
    out = [posixpath.normpath(cwd)]
    while (parent := posixpath.dirname(out[-1])) != out[-1]:
        out.append(parent)
    return out


def _nearest_holding(cwd: str, names: Sequence[str]) -> Generator[list[Question], list[Any], dict[str, str | None]]:
    """For each of ``names``: the nearest ancestor of ``cwd`` holding it (one batch)."""
    paths = [(folder, name) for folder in _ancestors(cwd) for name in names]
    found = yield [("meta", posixpath.join(folder, name)) for folder, name in paths]
    nearest: dict[str, str | None] = dict.fromkeys(names)
    for (folder, name), meta in zip(paths, found, strict=True):
        if meta is not None and nearest[name] is None:
            nearest[name] = folder
    return nearest


def _root_of(holders: dict[str, str | None], markers: Sequence[str]) -> str | None:
    """The nearest ancestor holding any of ``markers`` (the longest path among their holders)."""
    folders = [folder for m in markers if (folder := holders.get(m)) is not None]
    return max(folders, key=len) if folders else None


def _docs_under(
    root: str | None, cwd: str, settings: DocsSettings, budget: list[int]
) -> Generator[list[Question], list[Any], list[str]]:
    """Each folder's first AGENTS.md candidate, root first, read under the shared budget."""
    folders = _folders(root, cwd)
    names = settings.candidates()
    metas = yield [("meta", posixpath.join(folder, name)) for folder in folders for name in names]
    chosen: list[str] = []
    for index, folder in enumerate(folders):
        for offset, name in enumerate(names):
            meta = metas[index * len(names) + offset]
            if meta is not None and meta.is_file:
                chosen.append(posixpath.join(folder, name))
                break
    if not chosen:
        return []
    contents = yield [("read", path) for path in chosen]
    found: list[str] = []
    for whole in contents:
        if budget[0] <= 0:
            break
        data = whole[: budget[0]]
        text = data.decode("utf-8", "replace")
        if text.strip():
            found.append(text)
            budget[0] -= len(data)
    return found


def _both(cwd: str, settings: DocsSettings, budget: list[int]) -> Steps:
    """The git root (for the turn diff) and the AGENTS.md contents, root first."""
    markers = list(settings.root_markers)
    holders = yield from _nearest_holding(cwd, list(dict.fromkeys([".git", *markers])))
    git = holders[".git"]
    if settings.max_bytes == 0:
        return git, []
    found = yield from _docs_under(_root_of(holders, markers), cwd, settings, budget)
    return git, found


def _folders(root: str | None, cwd: str) -> list[str]:
    """From the root (one of the cwd's ancestors) down to the cwd; just the cwd without a root."""
    chain = _ancestors(cwd)
    return chain[: chain.index(root) + 1][::-1] if root is not None else chain[:1]


def _answer_one(question: Question) -> Any:
    kind, path = question
    if kind == "meta":
        try:
            return metadata(path).to_file_metadata()
        except (FileNotFoundError, NotADirectoryError):
            return None
    return read_file(path)


def _answer_locally(steps: Steps) -> Any:
    """Run a discovery against this machine's filesystem (blocking: call in a worker thread)."""
    answers: list[Any] | None = None  # a generator starts with None
    try:
        while True:
            answers = [_answer_one(question) for question in steps.send(answers)]
    except StopIteration as done:
        return done.value


async def _answer_remotely(env: Any, batch: list[Question]) -> list[Any]:
    answers: list[Any] = [None] * len(batch)

    async def one(index: int, kind: str, path: str) -> None:
        answers[index] = await (env.get_metadata(path) if kind == "meta" else env.read_file(path))

    async with anyio.create_task_group() as tg:
        for index, (kind, path) in enumerate(batch):
            tg.start_soon(one, index, kind, path)
    return answers


async def _answer(env: Any, steps: Steps) -> Any:
    """Run a discovery through an environment (a local one in a single worker thread)."""
    if isinstance(env, LocalEnvironment):
        return await anyio.to_thread.run_sync(_answer_locally, steps)
    answers: list[Any] | None = None
    try:
        while True:
            answers = await _answer_remotely(env, steps.send(answers))
    except StopIteration as done:
        return done.value


async def git_root(env: Any, cwd: str) -> str | None:
    """The nearest ancestor of ``cwd`` holding ``.git`` (the turn diff's display root)."""
    root, _ = await _answer(env, _both(cwd, DocsSettings(max_bytes=0), [0]))
    return cast("str | None", root)


async def project_docs(
    env: Any, environment_id: str, cwd: str, settings: DocsSettings, budget: list[int]
) -> list[ProjectDoc]:
    """The AGENTS.md files of one environment, root first; ``budget`` ([bytes left]) is shared
    by every environment of the turn."""
    _, found = await _answer(env, _both(cwd, settings, budget))
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
