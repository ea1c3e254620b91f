"""``PathUri`` — a ``file:`` URI naming a path inside an environment (exec-server spec §2.4.1).

Plugin roots live in executor environments whose filesystem may follow another platform's
conventions than the orchestrator, so every plugin path is kept as a URI and manipulated
lexically (join, parent, containment) without ever touching the host filesystem. The canonical
spelling is what equality, hashing and cache keys use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

Convention = Literal["posix", "windows"]

# Characters left as-is inside one path segment: the WHATWG path set minus the characters the
# reference percent-encodes (controls, space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`, `%`).
_SEGMENT_SAFE = "!$&'()*+,-.:;=@[]^_|~"
_DRIVE_RE = re.compile(r"^[A-Za-z][:|]$")
_WINDOWS_ABS_RE = re.compile(r"^[A-Za-z]:[\\/]")


class PathUriError(ValueError):
    """A string that is not a usable ``file:`` URI or absolute native path."""


def _encode(segment: str) -> str:
    return quote(segment, safe=_SEGMENT_SAFE, encoding="utf-8", errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class PathUri:
    """An immutable ``file:`` URI: an authority (UNC host, usually empty) and decoded segments."""

    host: str
    segments: tuple[str, ...]

    # ----- construction -----
    @classmethod
    def parse(cls, uri: str) -> PathUri:
        """Parse a ``file:`` URI (lenient about un-encoded spaces and ``localhost``)."""
        parts = urlsplit(uri)
        if parts.scheme.lower() != "file":
            if not parts.scheme:
                raise PathUriError("invalid URI: relative URL without a base")
            raise PathUriError(f"unsupported path URI scheme `{parts.scheme}`")
        host = parts.netloc.lower()
        if host == "localhost":
            host = ""
        segments = tuple(unquote(s, errors="surrogateescape") for s in parts.path.split("/") if s)
        if "\0" in "".join(segments):
            raise PathUriError(f"invalid file URI path `{uri}`")
        if segments and _DRIVE_RE.match(segments[0]):
            segments = (segments[0][0] + ":",) + segments[1:]
        return cls(host, segments)

    @classmethod
    def from_native(cls, path: str) -> PathUri:
        """Convert an absolute POSIX or Windows path (convention inferred from its spelling)."""
        if "\0" in path:
            raise PathUriError(f"path contains a NUL byte: {path!r}")
        if path.startswith("/"):
            return cls("", tuple(s for s in path.split("/") if s and s != "."))._normalized()
        if _WINDOWS_ABS_RE.match(path):
            parts = re.split(r"[\\/]", path)
            return cls("", (parts[0][0].upper() + ":",) + tuple(s for s in parts[1:] if s and s != "."))._normalized()
        if path.startswith("\\\\"):
            parts = [s for s in re.split(r"[\\/]", path[2:]) if s]
            if len(parts) < 2:
                raise PathUriError(f"invalid UNC path `{path}`")
            return cls(parts[0].lower(), tuple(parts[1:]))._normalized()
        raise PathUriError(f"path `{path}` is not absolute")

    @classmethod
    def coerce(cls, value: str | PathUri) -> PathUri:
        """Accept either a ``file:`` URI or an absolute native path (the app-server API rule)."""
        if isinstance(value, PathUri):
            return value
        if value.lower().startswith("file:"):
            return cls.parse(value)
        return cls.from_native(value)

    # ----- inspection -----
    @property
    def convention(self) -> Convention:
        """Windows when there is a UNC host or a leading drive segment, else POSIX."""
        if self.host or (self.segments and _DRIVE_RE.match(self.segments[0])):
            return "windows"
        return "posix"

    @property
    def _anchor_depth(self) -> int:
        return 1 if self.convention == "windows" else 0

    def __str__(self) -> str:
        return "file://" + self.host + "/" + "/".join(_encode(s) for s in self.segments)

    def __repr__(self) -> str:
        return f"PathUri({str(self)!r})"

    @property
    def basename(self) -> str | None:
        return self.segments[-1] if len(self.segments) > self._anchor_depth else None

    @property
    def parent(self) -> PathUri | None:
        if len(self.segments) <= self._anchor_depth:
            return None
        return PathUri(self.host, self.segments[:-1])

    def to_native(self) -> str:
        """Render with the inferred convention (``/a/b``, ``C:\\a\\b``, ``\\\\host\\share\\a``)."""
        if self.convention == "posix":
            return "/" + "/".join(self.segments)
        if self.host:
            return "\\\\" + self.host + "\\" + "\\".join(self.segments)
        drive, rest = self.segments[0], self.segments[1:]
        return drive + "\\" + "\\".join(rest)

    def starts_with(self, base: PathUri) -> bool:
        """Lexical containment on whole segments (equal counts as contained)."""
        if self.host != base.host:
            return False
        n = len(base.segments)
        if self.convention == "windows":
            mine = tuple(s.lower() for s in self.segments[:n])
            return len(self.segments) >= n and mine == tuple(s.lower() for s in base.segments)
        return self.segments[:n] == base.segments

    # ----- derivation -----
    def join(self, path: str) -> PathUri:
        """Resolve native path text against this URI, lexically.

        An absolute path replaces the base; ``..`` removes a segment but never climbs above the
        POSIX root, drive or UNC share; ``.`` and empty segments are ignored.
        """
        if "\0" in path:
            raise PathUriError(f"invalid file URI path `{path}`")
        if not path:
            return self
        windows = self.convention == "windows"
        if path.startswith("/") and not windows:
            return PathUri.from_native(path)
        if windows and (_WINDOWS_ABS_RE.match(path) or path.startswith("\\\\")):
            return PathUri.from_native(path)
        if windows and re.match(r"^[A-Za-z]:", path):
            raise PathUriError(f"invalid file URI path `{path}`")
        segments = list(self.segments)
        anchor = self._anchor_depth
        if windows:
            path = path.replace("\\", "/")
            if path.startswith("/"):
                segments = segments[:anchor]
        for component in path.split("/"):
            if component in ("", "."):
                continue
            if component == "..":
                if len(segments) > anchor:
                    segments.pop()
                continue
            segments.append(component)
        return PathUri(self.host, tuple(segments))

    def _normalized(self) -> PathUri:
        anchor = self._anchor_depth
        out: list[str] = []
        for s in self.segments:
            if s == "..":
                if len(out) > anchor:
                    out.pop()
            else:
                out.append(s)
        return PathUri(self.host, tuple(out))
