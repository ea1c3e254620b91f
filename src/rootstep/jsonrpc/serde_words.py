"""How Rust's serde names a value it did not expect: 0.169's errors quote these words
(``invalid type: integer `3`, expected a string``), for request params and for config.toml alike."""

from __future__ import annotations

from typing import Any

_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"', "\0": "\\0"}


def rust_debug(text: str) -> str:
    """A string as Rust's ``{:?}`` shows it (how serde quotes one): in double quotes, with
    ``\\t \\r \\n \\\\ \\" \\0`` escaped and any other character that does not print as
    ``\\u{hex}``. Pure."""
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    out.append('"')
    return "".join(out)


def unexpected(value: Any) -> str:
    """serde's ``Unexpected`` text for a JSON or TOML value. Pure."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {rust_debug(value)}"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return f"`{value}`"  # a TOML date or time
