"""``$CODEX_HOME/environments.toml``: which executors exist (spec exec-server §3.1, protocol §3.7).

Parsed once into immutable values; every validation error names the file, the line and the
field, so a user can fix the file without guessing. Without the file the legacy provider
applies (``CODEX_EXEC_SERVER_URL``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

FILE_NAME = "environments.toml"
LOCAL_ID = "local"
REMOTE_ID = "remote"
DEFAULT_TIMEOUT_S = 10.0
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOP_KEYS = {"default", "include_local", "environments"}
_ENV_KEYS = {"id", "program", "args", "env", "cwd", "url", "connect_timeout_sec", "initialize_timeout_sec"}


class EnvironmentsTomlError(ValueError):
    """A load error naming ``file:line`` and the offending field."""

    def __init__(self, path: Path | str, line: int | None, field_name: str | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        what = f" `{field_name}`" if field_name else ""
        super().__init__(f"{where}:{what} {message}")
        self.path = str(path)
        self.line = line
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class EnvironmentSpec:
    id: str
    program: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    url: str | None = None
    connect_timeout_sec: float = DEFAULT_TIMEOUT_S
    initialize_timeout_sec: float = DEFAULT_TIMEOUT_S

    @property
    def kind(self) -> Literal["stdio", "websocket"]:
        return "stdio" if self.program is not None else "websocket"


@dataclass(frozen=True)
class EnvironmentsConfig:
    include_local: bool = True
    default: str | None = LOCAL_ID
    environments: tuple[EnvironmentSpec, ...] = ()
    path: str | None = None  # None: the legacy provider (no file)
    ids: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        ids = ((LOCAL_ID,) if self.include_local else ()) + tuple(e.id for e in self.environments)
        object.__setattr__(self, "ids", ids)

    def get(self, env_id: str) -> EnvironmentSpec | None:
        return next((e for e in self.environments if e.id == env_id), None)


def default_ids(ids: list[str], default: str | None) -> list[str]:
    """What a thread gets when it names no environments: the default first, then every other
    configured one; nothing at all when there is no default (``default = "none"``, or
    ``include_local = false`` without a ``default``), as in 0.169."""
    if default not in ids:
        return []
    return [default] + [env_id for env_id in ids if env_id != default]


class _Lines:
    """Finds the line of a key in the source text: top level, or inside the n-th ``[[environments]]``."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.blocks = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*environments\s*\]\]", line)]

    def _key_line(self, start: int, end: int, key: str) -> int | None:
        pattern = re.compile(rf"\s*(\"?){re.escape(key)}\1\s*=")
        table = re.compile(rf"\s*\[\s*environments\s*\.\s*{re.escape(key)}\s*\]")
        for i in range(start, end):
            if pattern.match(self.lines[i]) or table.match(self.lines[i]):
                return i + 1
        return None

    def top(self, key: str) -> int | None:
        return self._key_line(0, self.blocks[0] if self.blocks else len(self.lines), key)

    def env(self, index: int, key: str | None = None) -> int | None:
        if index >= len(self.blocks):
            return None
        start = self.blocks[index]
        if key is None:
            return start + 1
        end = self.blocks[index + 1] if index + 1 < len(self.blocks) else len(self.lines)
        return self._key_line(start + 1, end, key) or start + 1


def _validate_id(raw: Any, fail: Callable[[str | None, str], NoReturn]) -> str:
    if not isinstance(raw, str) or not raw:
        fail("id", "environment id must be a non-empty string")
    if raw != raw.strip():
        fail("id", f"environment id `{raw}` must not have surrounding whitespace")
    if raw.lower() in (LOCAL_ID, "none"):
        fail("id", f"environment id `{raw}` is reserved")
    if not _ID_RE.match(raw):
        fail("id", f"environment id `{raw}` must be at most 64 ASCII letters, digits, `-` or `_`")
    return raw


def _timeout(value: Any, name: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        fail(name, f"{name} must be a positive number of seconds")
    return float(value)


def parse_environments_toml(text: str, path: Path | str, codex_home: Path | str) -> EnvironmentsConfig:
    """Parse and validate; raises :class:`EnvironmentsTomlError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise EnvironmentsTomlError(path, int(m.group(1)) if m else None, None, f"invalid TOML: {exc}") from None
    lines = _Lines(text)

    def top_fail(key: str | None, message: str) -> Any:
        raise EnvironmentsTomlError(path, lines.top(key) if key else None, key, message)

    for key in data:
        if key not in _TOP_KEYS:
            top_fail(key, f"unknown field `{key}`")
    include_local = data.get("include_local", True)
    if not isinstance(include_local, bool):
        top_fail("include_local", "include_local must be a boolean")
    raw_envs = data.get("environments", [])
    if not isinstance(raw_envs, list):
        top_fail("environments", "environments must be an array of tables ([[environments]])")

    specs: list[EnvironmentSpec] = []
    seen = {LOCAL_ID} if include_local else set()
    for index, raw in enumerate(raw_envs):

        def fail(key: str | None, message: str, _i: int = index) -> Any:
            where = f"environments[{_i}].{key}" if key else f"environments[{_i}]"
            raise EnvironmentsTomlError(path, lines.env(_i, key), where, message)

        if not isinstance(raw, dict):
            fail(None, "each environment must be a table")
        for key in raw:
            if key not in _ENV_KEYS:
                fail(key, f"unknown field `{key}`")
        if "id" not in raw:
            fail(None, "missing field `id`")
        env_id = _validate_id(raw["id"], fail)
        if env_id in seen:
            fail("id", f"environment id `{env_id}` is duplicated")
        seen.add(env_id)
        has_url, has_program = "url" in raw, "program" in raw
        if has_url == has_program:
            fail("url" if has_url else None, f"environment `{env_id}` must set exactly one of url or program")
        if has_url:
            for key in ("args", "env", "cwd"):
                if key in raw:
                    fail(key, f"environment `{env_id}` args, env, and cwd require program")
            url = raw["url"]
            if not isinstance(url, str) or not re.match(r"^wss?://[^/\s]+", url.strip()):
                fail("url", f"environment `{env_id}` url must be a ws:// or wss:// URL")
            spec = EnvironmentSpec(
                id=env_id,
                url=url.strip(),
                connect_timeout_sec=_timeout(
                    raw.get("connect_timeout_sec", DEFAULT_TIMEOUT_S), "connect_timeout_sec", fail
                ),
                initialize_timeout_sec=_timeout(
                    raw.get("initialize_timeout_sec", DEFAULT_TIMEOUT_S), "initialize_timeout_sec", fail
                ),
            )
        else:
            if "connect_timeout_sec" in raw:
                fail("connect_timeout_sec", f"environment `{env_id}` connect_timeout_sec requires url")
            program = raw["program"]
            if not isinstance(program, str) or not program.strip():
                fail("program", f"environment `{env_id}` program must be a non-empty string")
            args = raw.get("args", [])
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                fail("args", f"environment `{env_id}` args must be an array of strings")
            env = raw.get("env", {})
            if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
                fail("env", f"environment `{env_id}` env must be a table of strings")
            cwd = raw.get("cwd")
            if cwd is not None:
                if not isinstance(cwd, str) or not cwd:
                    fail("cwd", f"environment `{env_id}` cwd must be a non-empty string")
                cwd = str(Path(codex_home, cwd))
            spec = EnvironmentSpec(
                id=env_id,
                program=program,
                args=tuple(args),
                env=tuple(env.items()),
                cwd=cwd,
                initialize_timeout_sec=_timeout(
                    raw.get("initialize_timeout_sec", DEFAULT_TIMEOUT_S), "initialize_timeout_sec", fail
                ),
            )
        specs.append(spec)

    default: str | None
    if "default" not in data:
        default = LOCAL_ID if include_local else None
    else:
        raw_default = data["default"]
        if not isinstance(raw_default, str):
            top_fail("default", "default must be a string")
        if raw_default.lower() == "none":
            default = None
        elif raw_default in seen:
            default = raw_default
        else:
            top_fail("default", f"default environment `{raw_default}` is not configured")
    return EnvironmentsConfig(include_local=include_local, default=default, environments=tuple(specs), path=str(path))


def legacy_environments(env: Mapping[str, str] | None = None) -> EnvironmentsConfig:
    """No file: ``local`` only, or ``none``, or one websocket ``remote`` from ``CODEX_EXEC_SERVER_URL``."""
    value = (os.environ if env is None else env).get("CODEX_EXEC_SERVER_URL", "").strip()
    if not value:
        return EnvironmentsConfig()
    if value.lower() == "none":
        return EnvironmentsConfig(include_local=False, default=None)
    return EnvironmentsConfig(
        include_local=False, default=REMOTE_ID, environments=(EnvironmentSpec(id=REMOTE_ID, url=value),)
    )


def load_environments_toml(
    codex_home: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> EnvironmentsConfig:
    path = Path(codex_home) / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return legacy_environments(env)
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentsTomlError(path, None, None, f"cannot read: {exc}") from None
    return parse_environments_toml(text, path, Path(codex_home))
