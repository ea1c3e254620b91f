"""The child-environment algorithm of ``process/start`` (spec exec-server §2.3), as pure functions.

The executor builds a child's environment from *its own* process environment, so that an
executor configured with ``[environments.env]`` hands exactly those values to its plugins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from rootstep.protocol.exec_server import ExecEnvPolicy

CORE_VARS = ("PATH", "SHELL", "TMPDIR", "TEMP", "TMP", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LOGNAME", "USER")
DEFAULT_EXCLUDES = ("*KEY*", "*SECRET*", "*TOKEN*")
# Variables a stdio MCP server receives by default (codex-rs/rmcp-client/src/utils.rs, Unix).
DEFAULT_ENV_VARS = (
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "__CF_USER_TEXT_ENCODING", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ"
)
# Where argv[0] is looked up when the child's environment has no PATH.
DEFAULT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(_translate(glob), re.IGNORECASE | re.DOTALL)


def _translate(glob: str) -> str:
    # Only '*' and '?' are wildcards; everything else is literal.
    out = []
    for ch in glob:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "(?:" + "".join(out) + r")\Z"


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive wildcard match (``*`` any run, ``?`` one character)."""
    return any(_pattern(p).match(name) for p in patterns)


def child_env(
    policy: ExecEnvPolicy | None, overlay: Mapping[str, str], parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a child gets: policy over ``parent`` (default: this process), then ``overlay``."""
    if policy is None:
        return dict(overlay)
    source = os.environ if parent is None else parent
    if policy.inherit == "all":
        env = dict(source)
    elif policy.inherit == "core":
        core = {v.upper() for v in CORE_VARS}
        env = {k: v for k, v in source.items() if k.upper() in core}
    else:
        env = {}
    if not policy.ignore_default_excludes:
        env = {k: v for k, v in env.items() if not matches_any(k, DEFAULT_EXCLUDES)}
    if policy.exclude:
        env = {k: v for k, v in env.items() if not matches_any(k, policy.exclude)}
    env.update(policy.set)
    if policy.include_only:
        env = {k: v for k, v in env.items() if matches_any(k, policy.include_only)}
    env.update(overlay)
    return env


def mcp_env_policy(remote_env_vars: Iterable[str]) -> ExecEnvPolicy:
    """The policy the orchestrator sends for a stdio MCP server (spec exec-server §4.2)."""
    names = list(remote_env_vars)
    if not names:
        return ExecEnvPolicy(inherit="core", ignore_default_excludes=True, exclude=[], set={}, include_only=[])
    include = list(DEFAULT_ENV_VARS) + [n for n in names if n not in DEFAULT_ENV_VARS]
    return ExecEnvPolicy(inherit="all", ignore_default_excludes=True, exclude=[], set={}, include_only=include)


def host_stdio_env(
    env_vars: Iterable[str], literal: Mapping[str, str], parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A host-launched stdio MCP server's env: default pass-through + named vars + literal table."""
    source = os.environ if parent is None else parent
    env = {k: source[k] for k in DEFAULT_ENV_VARS if k in source}
    env.update({k: source[k] for k in env_vars if k in source})
    env.update(literal)
    return env


def resolve_program(argv0: str, cwd: str, env: Mapping[str, str]) -> str | None:
    """Find the executable the way the executor does: by the *child's* PATH, or against cwd."""
    if "/" in argv0:
        path = argv0 if argv0.startswith("/") else os.path.join(cwd, argv0)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    search = env.get("PATH") or DEFAULT_SEARCH_PATH
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory or cwd, argv0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
