"""Finding a chunk's lines in a file, from strict to lenient, as 0.169 does.

Passes, each scanning from ``start`` (or, for an end-of-file chunk, first from the last
possible position): exact; ignoring trailing whitespace; ignoring leading and trailing
whitespace; and finally with typographic punctuation folded to ASCII (dashes, quotes, odd
spaces), so a patch written in plain ASCII still finds ``“smart”`` source text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rootstep.agent_tools.apply_patch.parser import trim, trim_end

_FOLD = str.maketrans(
    {
        **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-"),
        **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b"), "'"),
        **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f"), '"'),
        **dict.fromkeys(
            map(ord, "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"), " "
        ),
    }
)


def fold_punctuation(line: str) -> str:
    return trim(line).translate(_FOLD)


_PASSES: tuple[Callable[[str], str], ...] = (lambda s: s, trim_end, trim, fold_punctuation)


def seek_sequence(lines: Sequence[str], pattern: Sequence[str], start: int, eof: bool) -> int | None:
    """Index where ``pattern`` starts in ``lines`` at or after ``start``, or None."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    first = len(lines) - len(pattern) if eof else start
    last = len(lines) - len(pattern)
    for norm in _PASSES:
        wanted = [norm(p) for p in pattern]
        for i in range(first, last + 1):
            if all(norm(lines[i + j]) == wanted[j] for j in range(len(pattern))):
                return i
    return None
