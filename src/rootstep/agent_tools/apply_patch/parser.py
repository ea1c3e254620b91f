"""Patch text → :class:`Patch`, with 0.169's lenient rules and its error messages.

Rules (as the reference applies them to every model):

* the text is trimmed, split into lines (a ``\\r`` before ``\\n`` dropped), and must start with
  ``*** Begin Patch`` and end with ``*** End Patch`` (whitespace around a marker allowed);
  failing that, a heredoc wrapper — first line ``<<EOF``, ``<<'EOF'`` or ``<<"EOF"``, last line
  ending in ``EOF``, at least four lines — is stripped and the inside checked again;
* ``*** Environment ID: <id>`` may follow ``*** Begin Patch`` once;
* ``*** Add File: p`` takes ``+`` lines; ``*** Delete File: p`` takes none;
  ``*** Update File: p`` takes an optional ``*** Move to: q`` then chunks: ``@@`` or
  ``@@ <context>`` headers and `` ``/``+``/``-`` lines (an empty line is an empty context
  line; the first chunk's ``@@`` may be omitted), each chunk optionally closed by
  ``*** End of File``.

Errors are :class:`PatchParseError` whose ``str()`` is the reference's text
(``invalid patch: …`` or ``invalid hunk at line N, …``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rootstep.agent_tools.apply_patch.model import AddFile, DeleteFile, Hunk, Patch, UpdateChunk, UpdateFile

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File: "
DELETE_FILE = "*** Delete File: "
UPDATE_FILE = "*** Update File: "
MOVE_TO = "*** Move to: "
END_OF_FILE = "*** End of File"
CHANGE_CONTEXT = "@@ "
EMPTY_CHANGE_CONTEXT = "@@"
ENVIRONMENT_ID = "*** Environment ID:"
HEREDOC_OPENERS = ("<<EOF", "<<'EOF'", '<<"EOF"')

# Rust's char::is_whitespace (Python's str.strip() also strips \x1c-\x1f).
_WS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

_FIRST_LINE = "The first line of the patch must be '*** Begin Patch'"
_LAST_LINE = "The last line of the patch must be '*** End Patch'"
_BAD_HEADER = (
    "'{}' is not a valid hunk header. Valid hunk headers: "
    "'*** Add File: {{path}}', '*** Delete File: {{path}}', '*** Update File: {{path}}'"
)
_UNEXPECTED = (
    "Unexpected line found in update hunk: '{}'. Every line should start with ' ' (context line), "
    "'+' (added line), or '-' (removed line)"
)
_EXPECTED_AT = "Expected update hunk to start with a @@ context marker, got: '{}'"


def trim(text: str) -> str:
    return text.strip(_WS)


def trim_end(text: str) -> str:
    return text.rstrip(_WS)


class PatchParseError(ValueError):
    """``line`` is None for a whole-patch error, else the 1-based line of the bad hunk."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"invalid patch: {message}" if line is None else f"invalid hunk at line {line}, {message}")


def _split_lines(text: str) -> list[str]:
    """Rust ``str::lines``: split on ``\\n``, drop one trailing ``\\r`` per line, no final empty."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def _check_boundaries(lines: list[str]) -> None:
    first = trim(lines[0]) if lines else None
    last = trim(lines[-1]) if lines else None
    if first == BEGIN_PATCH and last == END_PATCH:
        return
    if first != BEGIN_PATCH:
        raise PatchParseError(_FIRST_LINE)
    raise PatchParseError(_LAST_LINE)


def patch_body(text: str) -> str:
    """The patch's own lines, joined with ``\\n``: the heredoc wrapper (if any) removed."""
    lines = _split_lines(trim(text))
    try:
        _check_boundaries(lines)
        return "\n".join(lines)
    except PatchParseError as original:
        if len(lines) >= 4 and lines[0] in HEREDOC_OPENERS and lines[-1].endswith("EOF"):
            inner = lines[1:-1]
            _check_boundaries(inner)
            return "\n".join(inner)
        raise original from None


@dataclass
class _Update:
    path: str
    header_line: int
    move_path: str | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)


class _Parser:
    """Line-by-line state machine (the reference parses a stream the same way)."""

    def __init__(self) -> None:
        self.mode = "not_started"  # started | add | delete | update | ended
        self.hunks: list[AddFile | DeleteFile | _Update] = []
        self.add_lines: list[str] = []
        self.environment_id: str | None = None
        self.line_number = 0

    # -- helpers -----------------------------------------------------------------------------

    def _finish_add(self) -> None:
        if self.mode == "add" and isinstance(self.hunks[-1], AddFile):
            self.hunks[-1] = AddFile(self.hunks[-1].path, "".join(self.add_lines))
        self.add_lines = []

    def _ensure_update_not_empty(self, line: str) -> None:
        last = self.hunks[-1] if self.hunks else None
        if not isinstance(last, _Update):
            return
        if not last.chunks and self.mode == "update":
            raise PatchParseError(f"Update file hunk for path '{last.path}' is empty", last.header_line)
        if last.chunks and not last.chunks[-1]["old"] and not last.chunks[-1]["new"]:
            if line == END_PATCH:
                raise PatchParseError("Update hunk does not contain any lines", self.line_number)
            raise PatchParseError(_UNEXPECTED.format(line), self.line_number)

    def _headers(self, trimmed: str) -> bool:
        if self.mode == "started" and trimmed.startswith(ENVIRONMENT_ID):
            if self.environment_id is not None:
                raise PatchParseError("apply_patch environment_id cannot be specified more than once")
            value = trim(trimmed[len(ENVIRONMENT_ID):])
            if not value:
                raise PatchParseError("apply_patch environment_id cannot be empty")
            self.environment_id = value
            return True
        if trimmed == END_PATCH:
            self._ensure_update_not_empty(trimmed)
            self._finish_add()
            self.mode = "ended"
            return True
        for marker, mode in ((ADD_FILE, "add"), (DELETE_FILE, "delete"), (UPDATE_FILE, "update")):
            if trimmed.startswith(marker):
                self._ensure_update_not_empty(trimmed)
                self._finish_add()
                path = trimmed[len(marker):]
                if mode == "add":
                    self.hunks.append(AddFile(path, ""))
                elif mode == "delete":
                    self.hunks.append(DeleteFile(path))
                else:
                    self.hunks.append(_Update(path, self.line_number))
                self.mode = mode
                return True
        return False

    # -- one line ----------------------------------------------------------------------------

    def line(self, line: str) -> None:
        trimmed = trim(line)
        if self.mode == "not_started":
            if trimmed == BEGIN_PATCH:
                self.mode = "started"
                return
            raise PatchParseError(_FIRST_LINE)
        if self.mode == "ended":
            if trimmed:
                raise PatchParseError(_LAST_LINE)
            return
        if self.mode in ("started", "add", "delete"):
            if self._headers(trimmed):
                return
            if self.mode == "add" and line.startswith("+"):
                self.add_lines.append(line[1:] + "\n")
                return
            raise PatchParseError(_BAD_HEADER.format(trimmed), self.line_number)
        self._update_line(line)

    def _update_line(self, line: str) -> None:
        update_line = trim_end(line)
        if self._headers(update_line):
            return
        hunk = self.hunks[-1]
        assert isinstance(hunk, _Update)
        chunks = hunk.chunks
        last = chunks[-1] if chunks else None
        is_marker = update_line == EMPTY_CHANGE_CONTEXT or update_line.startswith(CHANGE_CONTEXT)
        if last is not None and last["eof"]:
            if not update_line:
                return
            if not is_marker:
                raise PatchParseError(_EXPECTED_AT.format(line), self.line_number)
        if not chunks and hunk.move_path is None and update_line.startswith(MOVE_TO):
            hunk.move_path = update_line[len(MOVE_TO):]
            return
        if is_marker and last is not None and not last["old"] and not last["new"]:
            raise PatchParseError(_UNEXPECTED.format(line), self.line_number)
        if update_line == EMPTY_CHANGE_CONTEXT:
            chunks.append(_chunk(None))
            return
        if update_line.startswith(CHANGE_CONTEXT):
            chunks.append(_chunk(update_line[len(CHANGE_CONTEXT):]))
            return
        if update_line == END_OF_FILE:
            if last is not None and not last["old"] and not last["new"]:
                raise PatchParseError("Update hunk does not contain any lines", self.line_number)
            if last is not None:
                last["eof"] = True
            return
        if line == "" or line[0] in " +-":
            if not chunks:
                chunks.append(_chunk(None))
            chunk = chunks[-1]
            text = line[1:]
            if line == "" or line[0] == " ":
                chunk["old"].append(text)
                chunk["new"].append(text)
            elif line[0] == "+":
                chunk["new"].append(text)
            else:
                chunk["old"].append(text)
            return
        if last is not None and (last["old"] or last["new"]):
            raise PatchParseError(_EXPECTED_AT.format(line), self.line_number)
        raise PatchParseError(_UNEXPECTED.format(line), self.line_number)

    def finish(self) -> Patch:
        if self.mode != "ended":
            raise PatchParseError(_LAST_LINE)
        hunks: list[Hunk] = []
        for hunk in self.hunks:
            if isinstance(hunk, _Update):
                chunks = tuple(
                    UpdateChunk(c["context"], tuple(c["old"]), tuple(c["new"]), c["eof"]) for c in hunk.chunks
                )
                hunks.append(UpdateFile(hunk.path, hunk.move_path, chunks))
            else:
                hunks.append(hunk)
        return Patch(tuple(hunks), self.environment_id)


def _chunk(context: str | None) -> dict[str, Any]:
    return {"context": context, "old": [], "new": [], "eof": False}


def parse_patch(text: str) -> Patch:
    """Parse a patch; raises :class:`PatchParseError` with the reference's message."""
    body = patch_body(text)
    parser = _Parser()
    lines = body.split("\n")
    for index, line in enumerate(lines):
        parser.line_number = index + 1
        if index == len(lines) - 1 and line and trim(line) == END_PATCH:
            parser._ensure_update_not_empty(trim(line))
            parser._finish_add()
            parser.mode = "ended"
            continue
        parser.line(line)
    patch = parser.finish()
    return Patch(patch.hunks, patch.environment_id, body)


def render_patch(patch: Patch) -> str:
    """The canonical text of a patch (``parse_patch(render_patch(p)) == p`` for valid patches)."""
    out = [BEGIN_PATCH]
    if patch.environment_id is not None:
        out.append(f"{ENVIRONMENT_ID} {patch.environment_id}")
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            out.append(ADD_FILE + hunk.path)
            out += ["+" + line for line in hunk.contents.split("\n")[:-1]] if hunk.contents else []
        elif isinstance(hunk, DeleteFile):
            out.append(DELETE_FILE + hunk.path)
        else:
            out.append(UPDATE_FILE + hunk.path)
            if hunk.move_path is not None:
                out.append(MOVE_TO + hunk.move_path)
            for chunk in hunk.chunks:
                out.append(EMPTY_CHANGE_CONTEXT if chunk.context is None else CHANGE_CONTEXT + chunk.context)
                out += _chunk_lines(chunk)
                if chunk.end_of_file:
                    out.append(END_OF_FILE)
    out.append(END_PATCH)
    return "\n".join(out) + "\n"


def _chunk_lines(chunk: UpdateChunk) -> list[str]:
    """Context/removed/added lines that parse back to the chunk's old and new lines.

    Common leading and trailing lines become context; the middle is removals then additions.
    """
    old, new = list(chunk.old_lines), list(chunk.new_lines)
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < len(old) - head and tail < len(new) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    lines = [" " + line for line in old[:head]]
    lines += ["-" + line for line in old[head : len(old) - tail]]
    lines += ["+" + line for line in new[head : len(new) - tail]]
    lines += [" " + line for line in old[len(old) - tail :]]
    return lines
