"""Arguments of ``exec_command`` / ``write_stdin``, parsed as 0.169 parses them (its defaults,
and its error texts for arguments that do not parse)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rootstep.jsonrpc.serde_words import unexpected

DEFAULT_EXEC_YIELD_MS = 10_000
DEFAULT_WRITE_YIELD_MS = 250


class ArgumentError(ValueError):
    """The text is what the model gets back as the function output."""


@dataclass(frozen=True)
class ExecCommandArgs:
    cmd: str
    workdir: str | None = None
    shell: str | None = None
    login: bool | None = None
    tty: bool = False
    yield_time_ms: int = DEFAULT_EXEC_YIELD_MS
    max_output_tokens: int | None = None
    sandbox_permissions: str = "use_default"  # or "require_escalated"
    justification: str | None = None
    prefix_rule: tuple[str, ...] | None = None

    @property
    def require_escalated(self) -> bool:
        return self.sandbox_permissions == "require_escalated"


@dataclass(frozen=True)
class WriteStdinArgs:
    session_id: int
    chars: str = ""
    yield_time_ms: int = DEFAULT_WRITE_YIELD_MS
    max_output_tokens: int | None = None


def _position(text: str) -> str:
    lines = text.split("\n")
    return f"at line {len(lines)} column {len(lines[-1])}"


def _load(arguments: str, struct: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ArgumentError(
            f"failed to parse function arguments: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise ArgumentError(
            f"failed to parse function arguments: invalid type: {unexpected(value)}, "
            f"expected struct {struct} {_position(arguments)}"
        )
    return value


def _field(args: dict[str, Any], name: str, kind: type | tuple[type, ...], arguments: str, expected: str) -> Any:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ArgumentError(
            f"failed to parse function arguments: invalid type: {unexpected(value)}, "
            f"expected {expected} {_position(arguments)}"
        )
    return value


def _number(args: dict[str, Any], name: str, arguments: str) -> int | None:
    value = _field(args, name, (int, float), arguments, "u64")
    if value is None:
        return None
    if value < 0 or (isinstance(value, float) and not value.is_integer()):
        raise ArgumentError(
            f"failed to parse function arguments: invalid value: {unexpected(value)}, "
            f"expected u64 {_position(arguments)}"
        )
    return int(value)


def parse_exec_command(arguments: str) -> ExecCommandArgs:
    args = _load(arguments, "ToolEnvironmentArgs")
    cmd = _field(args, "cmd", str, arguments, "a string")
    if cmd is None:
        raise ArgumentError(f"failed to parse function arguments: missing field `cmd` {_position(arguments)}")
    permissions = _field(args, "sandbox_permissions", str, arguments, "a string") or "use_default"
    if permissions not in ("use_default", "require_escalated", "with_additional_permissions"):
        raise ArgumentError(
            f"failed to parse function arguments: unknown variant `{permissions}`, expected one of `use_default`, "
            f"`require_escalated`, `with_additional_permissions` {_position(arguments)}"
        )
    prefix = _field(args, "prefix_rule", list, arguments, "a sequence")
    if prefix is not None and not all(isinstance(p, str) for p in prefix):
        raise ArgumentError(
            f"failed to parse function arguments: invalid type: expected a string {_position(arguments)}"
        )
    yield_ms = _number(args, "yield_time_ms", arguments)
    return ExecCommandArgs(
        cmd=cmd,
        workdir=_field(args, "workdir", str, arguments, "a string"),
        shell=_field(args, "shell", str, arguments, "a string"),
        login=_field(args, "login", bool, arguments, "a boolean"),
        tty=bool(_field(args, "tty", bool, arguments, "a boolean")),
        yield_time_ms=DEFAULT_EXEC_YIELD_MS if yield_ms is None else yield_ms,
        max_output_tokens=_number(args, "max_output_tokens", arguments),
        sandbox_permissions=permissions,
        justification=_field(args, "justification", str, arguments, "a string"),
        prefix_rule=tuple(prefix) if prefix is not None else None,
    )


def parse_write_stdin(arguments: str) -> WriteStdinArgs:
    args = _load(arguments, "WriteStdinArgs")
    session = _number(args, "session_id", arguments)
    if session is None:
        raise ArgumentError(f"failed to parse function arguments: missing field `session_id` {_position(arguments)}")
    yield_ms = _number(args, "yield_time_ms", arguments)
    return WriteStdinArgs(
        session_id=session,
        chars=_field(args, "chars", str, arguments, "a string") or "",
        yield_time_ms=DEFAULT_WRITE_YIELD_MS if yield_ms is None else yield_ms,
        max_output_tokens=_number(args, "max_output_tokens", arguments),
    )
