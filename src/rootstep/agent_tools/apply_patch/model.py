"""The typed form of a Codex patch (``*** Begin Patch`` … ``*** End Patch``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UpdateChunk:
    """One ``@@`` section: ``old_lines`` are replaced by ``new_lines``.

    ``context`` is the ``@@ <line>`` anchor searched for first; ``end_of_file`` says the old
    lines are expected at the end of the file (``*** End of File``).
    """

    context: str | None = None
    old_lines: tuple[str, ...] = ()
    new_lines: tuple[str, ...] = ()
    end_of_file: bool = False


@dataclass(frozen=True)
class AddFile:
    path: str
    contents: str  # every ``+`` line followed by "\n"


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class UpdateFile:
    path: str
    move_path: str | None = None
    chunks: tuple[UpdateChunk, ...] = ()


Hunk = AddFile | DeleteFile | UpdateFile


def affected_path(hunk: Hunk) -> str:
    """The path as the patch spells it, the destination for a move (0.169's summary lines)."""
    if isinstance(hunk, UpdateFile) and hunk.move_path is not None:
        return hunk.move_path
    return hunk.path


@dataclass(frozen=True)
class Patch:
    hunks: tuple[Hunk, ...] = ()
    environment_id: str | None = None
    text: str = field(default="", compare=False)  # the patch body (heredoc wrapper removed)
