"""Which commands 0.169 trusts without asking under ``untrusted`` (known safe: read-only tools),
and which it never runs unasked (``rm -f``…, through ``sudo``/``env`` wrappers)."""

from __future__ import annotations

import os

from rootstep.agent_tools.unified_exec.bash_words import extract_bash_script, plain_commands

_SAFE = frozenset({
    "cat", "cd", "cut", "echo", "expr", "false", "grep", "head", "id", "ls", "nl", "paste", "pwd", "rev",
    "seq", "stat", "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami", "numfmt", "tac",
})
_UNSAFE_FIND = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"})
_GIT_GLOBAL_WITH_VALUE = frozenset(
    {"-C", "-c", "--config-env", "--exec-path", "--git-dir", "--namespace", "--super-prefix", "--work-tree"}
)
_UNSAFE_GIT_GLOBAL_EXACT = frozenset(
    {"-C", "-c", "-p", "--config-env", "--exec-path", "--git-dir", "--namespace", "--paginate", "--super-prefix",
     "--work-tree"}
)
_UNSAFE_GIT_GLOBAL_PREFIX = (
    "--config-env=", "--exec-path=", "--git-dir=", "--namespace=", "--super-prefix=", "--work-tree="
)
_UNSAFE_GIT_SUB_EXACT = frozenset({"--output", "--ext-diff", "--textconv", "--exec"})
_UNSAFE_GIT_SUB_PREFIX = ("--output=", "--exec=")
_GIT_BRANCH_READ_FLAGS = frozenset(
    {"--list", "-l", "--show-current", "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose"}
)


def _name(word: str) -> str:
    return os.path.basename(word)


def _git_subcommand(command: list[str], wanted: tuple[str, ...]) -> int | None:
    skip = False
    for i, arg in enumerate(command[1:], start=1):
        if skip:
            skip = False
            continue
        if any(arg.startswith(p) for p in _UNSAFE_GIT_GLOBAL_PREFIX) or (arg.startswith(("-C", "-c")) and len(arg) > 2):
            continue
        if arg in _GIT_GLOBAL_WITH_VALUE:
            skip = True
            continue
        if arg == "--" or arg.startswith("-"):
            continue
        return i if arg in wanted else None
    return None


def _safe_git(command: list[str]) -> bool:
    index = _git_subcommand(command, ("status", "log", "diff", "show", "branch"))
    if index is None:
        return False
    for arg in command[1:index]:
        if arg in _UNSAFE_GIT_GLOBAL_EXACT or any(arg.startswith(p) for p in _UNSAFE_GIT_GLOBAL_PREFIX):
            return False
        if arg[:2] in ("-C", "-c") and len(arg) > 2:
            return False
    args = command[index + 1:]
    if any(a in _UNSAFE_GIT_SUB_EXACT or a.startswith(_UNSAFE_GIT_SUB_PREFIX) for a in args):
        return False
    if command[index] == "branch":
        if not args:
            return True
        return all(a in _GIT_BRANCH_READ_FLAGS or a.startswith("--format=") for a in args)
    return True


def _sed_n_arg(arg: str | None) -> bool:
    if not arg or not arg.endswith("p"):
        return False
    parts = arg[:-1].split(",")
    return 1 <= len(parts) <= 2 and all(p.isascii() and p.isdigit() for p in parts)


def _safe_exec(command: list[str]) -> bool:
    if not command:
        return False
    name = _name(command[0])
    if name in _SAFE:
        return True
    if name == "base64":
        return not any(
            a in ("-o", "--output") or a.startswith("--output=") or (a.startswith("-o") and a != "-o")
            for a in command[1:]
        )
    if name == "find":
        return not any(a in _UNSAFE_FIND for a in command)
    if name == "rg":
        return not any(
            a in ("--search-zip", "-z", "--pre", "--hostname-bin") or a.startswith(("--pre=", "--hostname-bin="))
            for a in command
        )
    if name == "git":
        return _safe_git(command)
    if name == "sed":
        return len(command) <= 4 and len(command) > 2 and command[1] == "-n" and _sed_n_arg(command[2])
    return False


def is_known_safe(command: list[str]) -> bool:
    """Pure: a read-only command (or a ``bash -lc`` script of only such commands)."""
    command = ["bash" if w == "zsh" else w for w in command]
    if _safe_exec(command):
        return True
    script = extract_bash_script(command)
    commands = plain_commands(script or "") if script is not None else None
    return bool(commands) and all(_safe_exec(c) for c in commands or ())


def _rm_forced(args: list[str]) -> bool:
    for a in args:
        if a == "--":
            return False
        if a in ("--force",) or (a.startswith("-") and not a.startswith("--") and "f" in a[1:]):
            return True
    return False


def is_dangerous(command: list[str], depth: int = 0) -> bool:
    """Pure: ``rm -f``-style commands, directly or behind ``sudo``/``env``/a ``bash -c``."""
    if depth > 8 or not command:
        return False
    name = _name(command[0])
    if name == "rm" and _rm_forced(command[1:]):
        return True
    if name == "sudo":
        return is_dangerous(command[1:], depth + 1)
    if name == "env":
        i = 1
        while i < len(command):
            a = command[i]
            if a == "--":
                i += 1
                break
            if a in ("-i", "--ignore-environment") or ("=" in a and not a.startswith("-") and a.split("=", 1)[0]):
                i += 1
                continue
            break
        return is_dangerous(command[i:], depth + 1)
    script = extract_bash_script(command)
    if script is not None:
        commands = plain_commands(script) or []
        return any(is_dangerous(c, depth + 1) for c in commands)
    return False
