"""``file:`` URIs of native paths, as the exec-server protocol writes them (standard library
only: the stdio executor's first answer uses it before anything else is imported)."""

from __future__ import annotations

import os
import urllib.parse

# RFC 3986 path characters the reference leaves unescaped.
SAFE = "!$&'()*+,-./:;=@[\\]^_|~"


def path_to_uri(path: str | os.PathLike[str]) -> str:
    """``/a b/ü.txt`` → ``file:///a%20b/%C3%BC.txt`` (absolute POSIX paths only)."""
    raw = os.fsencode(os.fspath(path))
    if not raw.startswith(b"/"):
        raise ValueError(f"not an absolute path: {path!r}")
    return "file://" + urllib.parse.quote_from_bytes(raw, safe=SAFE)
