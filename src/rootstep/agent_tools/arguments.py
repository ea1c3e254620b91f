"""Function-call arguments checked like the reference's serde structs, with its messages.

``failed to parse function arguments: <serde_json message> at line L column C`` is what 0.169
answers for arguments that do not fit a tool's struct. :func:`parse_arguments` reproduces the
messages for the cases a model produces (missing field, unknown field, unknown variant, wrong
type) with serde_json's positions (the column just after the offending token, or after the
object's ``}`` for a missing field). A JSON syntax error gets the JSON parser's own words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from rootstep.jsonrpc.serde_words import unexpected

PREFIX = "failed to parse function arguments: "


class ArgumentsError(ValueError):
    """``str()`` is the full text for the model."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "string" | "integer" | "boolean" | "array" | "object" | "enum"
    required: bool = True
    variants: tuple[str, ...] = ()
    item: Struct | None = None  # for arrays of structs / nested structs


@dataclass(frozen=True)
class Struct:
    fields: tuple[Field, ...]
    deny_unknown: bool = True
    by_name: dict[str, Field] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})


class _Pos:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def at(self, index: int) -> str:
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1)
        return f"at line {line} column {column}"


def _fail(pos: _Pos, index: int, message: str) -> ArgumentsError:
    return ArgumentsError(f"{PREFIX}{message} {pos.at(index)}")


def _skip_ws(pos: _Pos) -> None:
    while pos.i < len(pos.text) and pos.text[pos.i] in " \t\r\n":
        pos.i += 1


def _value_end(pos: _Pos) -> int:
    """Skip one JSON value from ``pos.i``; return its end index."""
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(pos.text, pos.i)
    pos.i = end
    return end


def _expected(names: list[str]) -> str:
    if not names:
        return "there are no fields"
    if len(names) == 1:
        return f"expected `{names[0]}`"
    if len(names) == 2:
        return f"expected `{names[0]}` or `{names[1]}`"
    return "expected one of " + ", ".join(f"`{n}`" for n in names)


_EXPECTING = {"string": "a string", "integer": "i64", "boolean": "a boolean", "array": "a sequence", "object": "a map"}


def _check_value(pos: _Pos, spec: Field, value: Any, end: int, start: int) -> None:
    if spec.kind == "enum":
        if not isinstance(value, str):
            raise _fail(pos, end, f"invalid type: {unexpected(value)}, expected {_expected_variants(spec.variants)}")
        if value not in spec.variants:
            raise _fail(pos, end, f"unknown variant `{value}`, {_expected_variants(spec.variants)}")
        return
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[spec.kind]
    if not ok:
        if value is None and not spec.required:
            return
        raise _fail(pos, end, f"invalid type: {unexpected(value)}, expected {_EXPECTING[spec.kind]}")
    if spec.item is not None and spec.kind == "array":
        saved = pos.i
        pos.i = start + 1
        for _ in value:
            _skip_ws(pos)
            _check_struct(pos, spec.item)
            _skip_ws(pos)
            if pos.text[pos.i] == ",":
                pos.i += 1
        pos.i = saved


def _expected_variants(variants: tuple[str, ...]) -> str:
    if len(variants) == 1:
        return f"expected `{variants[0]}`"
    if len(variants) == 2:
        return f"expected `{variants[0]}` or `{variants[1]}`"
    return "expected one of " + ", ".join(f"`{v}`" for v in variants)


def _check_struct(pos: _Pos, struct: Struct) -> None:
    _skip_ws(pos)
    start = pos.i
    value_end = _value_end(pos)
    value = json.loads(pos.text[start:value_end])
    if not isinstance(value, dict):
        raise _fail(pos, value_end, f"invalid type: {unexpected(value)}, expected struct")
    pos.i = start + 1
    seen: set[str] = set()
    while True:
        _skip_ws(pos)
        if pos.text[pos.i] == "}":
            pos.i += 1
            break
        key_start = pos.i
        key_end = _value_end(pos)
        key = json.loads(pos.text[key_start:key_end])
        spec = struct.by_name.get(key)
        if spec is None and struct.deny_unknown:
            raise _fail(pos, key_end, f"unknown field `{key}`, {_expected([f.name for f in struct.fields])}")
        _skip_ws(pos)
        pos.i += 1  # ':'
        _skip_ws(pos)
        v_start = pos.i
        v_end = _value_end(pos)
        if spec is not None:
            if key in seen:
                raise _fail(pos, key_end, f"duplicate field `{key}`")
            seen.add(key)
            after = pos.i
            _check_value(pos, spec, json.loads(pos.text[v_start:v_end]), v_end, v_start)
            pos.i = after
        _skip_ws(pos)
        if pos.text[pos.i] == ",":
            pos.i += 1
    for spec in struct.fields:
        if spec.required and spec.name not in seen:
            raise _fail(pos, pos.i, f"missing field `{spec.name}`")


def parse_arguments(text: str, struct: Struct) -> dict[str, Any]:
    """The arguments as a dict, or :class:`ArgumentsError` with the reference's message."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentsError(f"{PREFIX}{_syntax_message(text, exc)}") from None
    pos = _Pos(text)
    _check_struct(pos, struct)
    return cast(dict[str, Any], value)  # _check_struct accepted an object


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    stripped = text.lstrip()
    column_of = _Pos(text)
    if not stripped:
        return f"EOF while parsing a value {column_of.at(len(text))}"
    if stripped[0] in "tfn":
        return f"expected ident {column_of.at(len(text) - len(stripped) + 2)}"
    if stripped[0] not in '{["-0123456789':
        return f"expected value {column_of.at(len(text) - len(stripped) + 1)}"
    return f"{exc.msg} {column_of.at(exc.pos + 1)}"
