"""Shell words: quoting a command for display exactly as codex does (``shlex::try_join``).

Each word is split into runs that can share one strategy — bare, single-quoted, or double-quoted
with ``\\`` escapes — preferring bare, then single, then double quotes.
"""

from __future__ import annotations

import string

_BARE = frozenset("+-./:@]_" + string.ascii_letters + string.digits)
_NOT_SINGLE = frozenset("'^\\")
_NOT_DOUBLE = frozenset("`$!^")
_BARE_OK, _SINGLE_OK, _DOUBLE_OK = 1, 2, 4


def _strategy(word: str) -> tuple[int, int]:
    ok = _BARE_OK | _SINGLE_OK | _DOUBLE_OK
    i = 0
    if word[0] == "^":
        ok, i = _SINGLE_OK, 1
    while i < len(word):
        ch = word[i]
        cur = ok
        if ord(ch) >= 0x80:
            cur &= ~_BARE_OK
        else:
            if ch not in _BARE:
                cur &= ~_BARE_OK
            if ch in _NOT_SINGLE:
                cur &= ~_SINGLE_OK
            if ch in _NOT_DOUBLE:
                cur &= ~_DOUBLE_OK
        if cur == 0:
            break
        ok = cur
        i += 1
    kind = _BARE_OK if ok & _BARE_OK else _SINGLE_OK if ok & _SINGLE_OK else _DOUBLE_OK
    return i, kind


def quote(word: str) -> str:
    if word == "":
        return "''"
    out: list[str] = []
    rest = word
    while rest:
        n, kind = _strategy(rest)
        chunk, rest = rest[:n], rest[n:]
        if kind == _BARE_OK:
            if not out and not rest:
                return chunk
            out.append(chunk)
        elif kind == _SINGLE_OK:
            out.append(f"'{chunk}'")
        else:
            out.append('"' + "".join("\\" + c if c in '$`"\\' else c for c in chunk) + '"')
    return "".join(out)


def join(words: list[str] | tuple[str, ...]) -> str:
    """``shlex_join``: a word with a NUL cannot be quoted and gives codex's placeholder."""
    if any("\0" in w for w in words):
        return "<command included NUL byte>"
    return " ".join(quote(w) for w in words)
