"""Rollout files: a thread's history as JSON lines, appended as items complete.

``CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<thread-id>.jsonl``; every line is
``{"timestamp", "type", "payload"}``. The first line is ``session_meta``. Writes are one
``write()`` of a whole line followed by a flush, so a crash can only tear the *last* line; the
reader skips any line that does not parse (and says so on stderr) instead of failing the thread.

Record kinds written by rootstep:

* ``session_meta`` — id, timestamps, cwd, model/provider, approval/sandbox, selected roots...
* ``response_item`` — one Responses API input item (what the model sees on resume)
* ``turn_started`` / ``turn_completed`` — turn boundaries with status, error and timings
* ``thread_item`` — a completed ThreadItem (what clients see in ``thread.turns``)
* ``thread_name`` — ``thread/name/set``
* ``token_usage`` — the running total after a model response
* ``compacted`` — ``thread/compact/start``: the history that replaces everything before it
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rootstep.bounded_read import DEFAULT_READ_LIMIT, FileTooLarge, NotARegularFile, open_regular_file
from rootstep.config.home import make_private_dirs

log = logging.getLogger(__name__)

ROLLOUT_PREFIX = "rollout-"
# A rollout named by a client may be any file: it is read as a regular file only, at most this
# much of it (the reference executor's read limit), one line (one record) at most this long.
MAX_ROLLOUT_BYTES = DEFAULT_READ_LIMIT
MAX_ROLLOUT_LINE = 64 * 1024 * 1024


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rollout_path(sessions_dir: Path, created_at: float, thread_id: str) -> Path:
    ts = datetime.fromtimestamp(created_at, UTC)
    return (
        sessions_dir
        / f"{ts:%Y}"
        / f"{ts:%m}"
        / f"{ts:%d}"
        / f"{ROLLOUT_PREFIX}{ts:%Y-%m-%dT%H-%M-%S}-{thread_id}.jsonl"
    )


def thread_id_of(path: Path) -> str | None:
    """The thread id encoded in a rollout file name (its last 36 characters)."""
    stem = path.name.removesuffix(".jsonl")
    if not stem.startswith(ROLLOUT_PREFIX) or len(stem) < 36:
        return None
    return stem[-36:]


class RolloutWriter:
    """Append-only writer; one per loaded, non-ephemeral thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        make_private_dirs(path.parent)  # conversations are private: new folders 0700, files 0600
        self._file: IO[str] | None = None

    def _handle(self) -> IO[str]:
        if self._file is None:
            # A previous process may have died mid-line: start on a fresh line so the torn one
            # stays isolated (and skipped) rather than swallowing our next record.
            needs_newline = False
            if self.path.exists() and self.path.stat().st_size > 0:
                with self.path.open("rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    needs_newline = existing.read(1) != b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
            if needs_newline:
                self._file.write("\n")
        return self._file

    def append(self, kind: str, payload: Any) -> None:
        line = json.dumps({"timestamp": now_rfc3339(), "type": kind, "payload": payload}, ensure_ascii=False)
        handle = self._handle()
        try:
            try:
                handle.write(line + "\n")
            except UnicodeEncodeError:  # a lone surrogate (from a model or a server): stored as "?"
                handle.write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
            handle.flush()
        except OSError:
            # Whatever part reached the disk is a torn line; reopen next time so the next
            # record starts on a fresh line.
            self.close()
            raise

    def close(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            try:
                handle.close()
            except OSError:
                pass


def rollout_path_problem(path: Path) -> str | None:
    """Why a client-named ``path`` cannot be read as a rollout (codex 0.169's words), or None.

    Non-blocking: the file is opened ``O_NONBLOCK`` and checked with ``fstat``, so a FIFO is
    refused at once instead of freezing the server, and a device or a huge file is never read."""
    try:
        with open_regular_file(str(path)) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_ROLLOUT_BYTES:
                return str(FileTooLarge(str(path), MAX_ROLLOUT_BYTES))
    except FileNotFoundError:
        return "file does not exist"
    except NotARegularFile as exc:
        return "path is a directory" if exc.kind == "directory" else "path is not a file"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _bounded_lines(handle: IO[bytes], path: Path) -> Iterator[bytes]:
    """The file's lines, reading at most :data:`MAX_ROLLOUT_BYTES` in all; a line longer than
    :data:`MAX_ROLLOUT_LINE` is skipped (with a warning) without ever being held whole."""
    remaining = MAX_ROLLOUT_BYTES
    number = 0
    while remaining > 0:
        raw = handle.readline(min(MAX_ROLLOUT_LINE, remaining) + 1)
        if not raw:
            return
        remaining -= len(raw)
        number += 1
        if len(raw) > MAX_ROLLOUT_LINE and not raw.endswith(b"\n"):
            log.warning("%s:%d: skipping a rollout line over %d bytes", path, number, MAX_ROLLOUT_LINE)
            while remaining > 0 and (rest := handle.readline(min(MAX_ROLLOUT_LINE, remaining))):
                remaining -= len(rest)
                if rest.endswith(b"\n"):
                    break
            continue
        yield raw
    if handle.read(1):
        raise FileTooLarge(str(path), MAX_ROLLOUT_BYTES)


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every well-formed record; torn or corrupt lines are logged and skipped. Only regular
    files are read, and at most :data:`MAX_ROLLOUT_BYTES` of them (``FileTooLarge`` past that)."""
    with open_regular_file(str(path)) as handle:
        for number, raw in enumerate(_bounded_lines(handle, path), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                log.warning("%s:%d: skipping unreadable rollout line", path, number)
                continue
            if not isinstance(record, dict) or "type" not in record:
                log.warning("%s:%d: skipping malformed rollout record", path, number)
                continue
            yield record


@dataclass
class RolloutTurn:
    id: str
    status: str = "inProgress"
    error: dict[str, Any] | None = None
    started_at: int | None = None
    completed_at: int | None = None
    duration_ms: int | None = None
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RolloutContents:
    path: Path
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: list[RolloutTurn] = field(default_factory=list)
    name: str | None = None
    preview: str = ""
    token_usage: dict[str, Any] | None = None
    updated_at: int = 0
    # The last payload of each record kind core does not interpret (extensions' own state,
    # such as the tool names a thread gave), handed back to them on resume.
    extras: dict[str, Any] = field(default_factory=dict)


def read_rollout(path: Path) -> RolloutContents | None:
    """Parse a rollout file; ``None`` when it has no readable ``session_meta``."""
    contents: RolloutContents | None = None
    turns_by_id: dict[str, RolloutTurn] = {}
    turn: RolloutTurn | None
    for record in iter_records(path):
        kind, payload = record.get("type"), record.get("payload")
        if kind == "session_meta":
            if contents is None and isinstance(payload, dict):
                contents = RolloutContents(path=path, meta=payload)
            continue
        if contents is None:
            continue
        if kind == "response_item":
            if isinstance(payload, dict):
                contents.history.append(payload)
            continue
        if not isinstance(payload, dict):
            continue
        if kind == "turn_started":
            turn = RolloutTurn(id=str(payload.get("turn_id")), started_at=payload.get("started_at"))
            turns_by_id[turn.id] = turn
            contents.turns.append(turn)
        elif kind == "turn_completed":
            turn = turns_by_id.get(str(payload.get("turn_id")))
            if turn is not None:
                turn.status = payload.get("status", "completed")
                turn.error = payload.get("error")
                turn.completed_at = payload.get("completed_at")
                turn.duration_ms = payload.get("duration_ms")
        elif kind == "thread_item":
            turn = turns_by_id.get(str(payload.get("turn_id")))
            item = payload.get("item")
            if turn is not None and isinstance(item, dict):
                turn.items.append(item)
                if not contents.preview and item.get("type") == "userMessage":
                    contents.preview = user_message_preview(item)
        elif kind == "compacted":
            replacement = payload.get("replacement_history")
            if isinstance(replacement, list):
                contents.history = [i for i in replacement if isinstance(i, dict)]
        elif kind == "settings":
            contents.meta.update(payload)
        elif kind == "thread_name":
            contents.name = payload.get("name")
        elif kind == "token_usage":
            contents.token_usage = payload
        elif isinstance(kind, str):
            contents.extras[kind] = payload
    if contents is None:
        return None
    for turn in contents.turns:
        # A turn without an end record was cut short by a crash: report it as interrupted.
        if turn.status == "inProgress":
            turn.status = "interrupted"
    try:
        contents.updated_at = int(path.stat().st_mtime)
    except OSError:
        contents.updated_at = int(contents.meta.get("created_at") or 0)
    return contents


_SUMMARY_KINDS = (b'"session_meta"', b'"thread_name"', b'"settings"', b'"thread_item"')


def summarize_rollout(path: Path) -> RolloutContents | None:
    """What a listing needs (meta, name, preview, timestamps) without parsing the history.

    Only lines whose record kind matters are decoded (the kind sits at the start of every
    line we write), and ``thread_item`` lines only until the first user message.
    """
    contents: RolloutContents | None = None
    preview_found = False
    try:
        handle = open_regular_file(str(path))
    except OSError:
        return None
    with handle, contextlib.suppress(FileTooLarge):  # a summary needs only the start
        for raw in _bounded_lines(handle, path):
            head = raw[:96]
            if not any(kind in head for kind in _SUMMARY_KINDS):
                continue
            if b'"thread_item"' in head and (preview_found or b'"userMessage"' not in raw):
                continue
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(record, dict):
                continue
            kind, payload = record.get("type"), record.get("payload")
            if not isinstance(payload, dict):
                continue
            if kind == "session_meta":
                if contents is None:
                    contents = RolloutContents(path=path, meta=payload)
            elif contents is None:
                continue
            elif kind == "thread_name":
                contents.name = payload.get("name")
            elif kind == "settings":
                contents.meta.update(payload)
            elif kind == "thread_item":
                item = payload.get("item")
                if isinstance(item, dict) and item.get("type") == "userMessage":
                    contents.preview = user_message_preview(item)
                    preview_found = True
    if contents is None:
        return None
    try:
        contents.updated_at = int(path.stat().st_mtime)
    except OSError:
        contents.updated_at = int(contents.meta.get("created_at") or 0)
    return contents


def user_message_preview(item: dict[str, Any]) -> str:
    for part in item.get("content") or []:
        if isinstance(part, dict) and part.get("type") == "text":
            return str(part.get("text", ""))
    return ""


def find_rollout(thread_id: str, *roots: Path) -> Path | None:
    """Locate a thread's rollout file under the given folders (sessions, archived)."""
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob(f"{ROLLOUT_PREFIX}*-{thread_id}.jsonl"):
            return path
    return None


def all_rollouts(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.rglob(f"{ROLLOUT_PREFIX}*.jsonl") if thread_id_of(p)]
