"""``commandActions``: a best-effort summary of what a command does, as 0.169 shows it —
``read`` (a file), ``listFiles``, ``search`` or ``unknown``.

A ``bash -c`` script made only of plain words is split into its commands; formatting helpers in
pipelines (``wc``, ``head -n 5``, ``sort``…) are dropped; ``cd`` moves the base of later read
paths; if any command is unknown the whole command becomes one ``unknown`` action.
"""

from __future__ import annotations

import os
import shlex
from itertools import pairwise
from typing import Any

from rootstep.agent_tools.unified_exec.bash_words import extract_bash_script, plain_commands
from rootstep.agent_tools.unified_exec.shell_words import join as shlex_join

_CONNECTORS = frozenset({"&&", "||", "|", ";"})


def _read(cmd: str, name: str, path: str) -> dict[str, Any]:
    return {"type": "read", "command": cmd, "name": name, "path": path}


def _list(cmd: str, path: str | None) -> dict[str, Any]:
    return {"type": "listFiles", "command": cmd, "path": path}


def _search(cmd: str, query: str | None, path: str | None) -> dict[str, Any]:
    return {"type": "search", "command": cmd, "query": query, "path": path}


def _unknown(cmd: str) -> dict[str, Any]:
    return {"type": "unknown", "command": cmd}


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _trim_at_connector(tokens: list[str]) -> list[str]:
    for i, t in enumerate(tokens):
        if t in _CONNECTORS:
            return tokens[:i]
    return tokens


def short_display_path(path: str) -> str:
    trimmed = path.replace("\\", "/").rstrip("/")
    for part in reversed(trimmed.split("/")):
        if part and part not in ("build", "dist", "node_modules", "src"):
            return part
    return trimmed


def _skip_flag_values(args: list[str], with_values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a == "--":
            out += args[i + 1:]
            break
        if a.startswith("--") and "=" in a:
            continue
        if a in with_values:
            skip = i + 1 < len(args)
            continue
        out.append(a)
    return out


def _positional(args: list[str], with_values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    after_dashdash = skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if after_dashdash:
            out.append(a)
            continue
        if a == "--":
            after_dashdash = True
            continue
        if a.startswith("--") and "=" in a:
            continue
        if a in with_values:
            skip = i + 1 < len(args)
            continue
        if a.startswith("-"):
            continue
        out.append(a)
    return out


def _first_operand(args: list[str], with_values: tuple[str, ...] = ()) -> str | None:
    ops = _positional(args, with_values)
    return ops[0] if ops else None


def _single_operand(args: list[str], with_values: tuple[str, ...] = ()) -> str | None:
    ops = _positional(args, with_values)
    return ops[0] if len(ops) == 1 else None


def _is_sed_n_arg(arg: str | None) -> bool:
    if not arg or not arg.endswith("p"):
        return False
    parts = arg[:-1].split(",")
    return 1 <= len(parts) <= 2 and all(p.isdigit() and p.isascii() for p in parts)


def _sed_read_path(args: list[str]) -> str | None:
    args = _trim_at_connector(args)
    if "-n" not in args:
        return None
    has_range = False
    i = 0
    while i < len(args):
        if args[i] in ("-e", "--expression"):
            has_range = has_range or _is_sed_n_arg(args[i + 1] if i + 1 < len(args) else None)
            i += 2
            continue
        i += 2 if args[i] in ("-f", "--file") else 1
    if not has_range:
        has_range = any(not a.startswith("-") and _is_sed_n_arg(a) for a in args)
    if not has_range:
        return None
    non_flags = [a for a in _skip_flag_values(args, ("-e", "-f", "--expression", "--file")) if not a.startswith("-")]
    if not non_flags:
        return None
    if _is_sed_n_arg(non_flags[0]):
        return non_flags[1] if len(non_flags) > 1 else None
    return non_flags[0]


def _awk_data_file(args: list[str]) -> str | None:
    if not args:
        return None
    args = _trim_at_connector(args)
    script_file = any(a in ("-f", "--file") for a in args)
    value_flags: tuple[str, ...] = ("-F", "-v", "-f", "--field-separator", "--assign", "--file")
    non_flags = [a for a in _skip_flag_values(args, value_flags) if not a.startswith("-")]
    if script_file:
        return non_flags[0] if non_flags else None
    return non_flags[1] if len(non_flags) >= 2 else None


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_small_formatting(tokens: list[str]) -> bool:
    if not tokens:
        return False
    cmd = tokens[0]
    if cmd in ("wc", "tr", "cut", "sort", "uniq", "tee", "column", "yes", "printf"):
        return True
    if cmd == "xargs":
        return not _is_mutating_xargs(tokens)
    if cmd == "awk":
        return _awk_data_file(tokens[1:]) is None
    if cmd in ("head", "tail"):
        if len(tokens) == 1:
            return True
        if len(tokens) == 2:
            return tokens[1].startswith("-")
        if len(tokens) == 3:
            flag, count = tokens[1], tokens[2]
            plus_ok = cmd == "tail" and count.startswith("+") and _is_digits(count[1:])
            if flag in ("-n", "-c") and (_is_digits(count) or plus_ok) and (cmd == "tail" or flag in ("-n", "-c")):
                return True
        return False
    if cmd == "sed":
        return _sed_read_path(tokens[1:]) is None
    return False


def _xargs_subcommand(tokens: list[str]) -> list[str] | None:
    i = 1
    while i < len(tokens):
        t = tokens[i]
        if t == "--":
            rest = tokens[i + 1:]
            return rest or None
        if not t.startswith("-"):
            return tokens[i:] or None
        i += 2 if t in ("-E", "-e", "-I", "-L", "-n", "-P", "-s") else 1
    return None


def _is_mutating_xargs(tokens: list[str]) -> bool:
    sub = _xargs_subcommand(tokens)
    if not sub:
        return False
    head, tail = sub[0], sub[1:]
    in_place = any(t.startswith(("-i", "-pi")) for t in tail)
    if head in ("perl", "ruby"):
        return in_place
    if head == "sed":
        return in_place or "--in-place" in tail
    if head == "rg":
        return "--replace" in tail
    return False


def _grep_like(main: list[str], args: list[str]) -> dict[str, Any]:
    args = _trim_at_connector(args)
    operands: list[str] = []
    pattern = None
    after_dashdash = False
    it = iter(args)
    for a in it:
        if after_dashdash:
            operands.append(a)
            continue
        if a == "--":
            after_dashdash = True
            continue
        if a in ("-e", "--regexp", "-f", "--file"):
            value = next(it, None)
            if value is not None and pattern is None:
                pattern = value
            continue
        if a in ("-m", "--max-count", "-C", "--context", "-A", "--after-context", "-B", "--before-context"):
            next(it, None)
            continue
        if a.startswith("-"):
            continue
        operands.append(a)
    has_pattern = pattern is not None
    query = pattern if has_pattern else (operands[0] if operands else None)
    index = 0 if has_pattern else 1
    path = short_display_path(operands[index]) if len(operands) > index else None
    return _search(shlex_join(main), query, path)


def _is_pathish(s: str) -> bool:
    return s in (".", "..") or s.startswith(("./", "../")) or "/" in s or "\\" in s


def _head_tail_read(main: list[str], tail: list[str], allow_plus: bool) -> dict[str, Any]:
    def count_ok(n: str) -> bool:
        s = n[1:] if allow_plus and n.startswith("+") else n
        return bool(s) and _is_digits(s)

    valid_n = False
    if tail:
        if tail[0] == "-n":
            valid_n = len(tail) > 1 and count_ok(tail[1]) if allow_plus else len(tail) > 1 and _is_digits(tail[1])
        elif tail[0].startswith("-n"):
            valid_n = count_ok(tail[0][2:]) if allow_plus else _is_digits(tail[0][2:]) or tail[0] == "-n"
    if valid_n:
        candidates = tail[2:] if tail[0] == "-n" and len(tail) > 1 and count_ok(tail[1]) else tail
        for p in candidates:
            if not p.startswith("-"):
                return _read(shlex_join(main), short_display_path(p), p)
    if len(tail) == 1 and not tail[0].startswith("-"):
        return _read(shlex_join(main), short_display_path(tail[0]), tail[0])
    return _unknown(shlex_join(main))


def summarize(main: list[str]) -> dict[str, Any]:
    """One command's action (pure)."""
    if not main:
        return _unknown("")
    head, tail = main[0], main[1:]
    cmd = shlex_join(main)
    if head in ("ls", "eza", "exa"):
        flags: tuple[str, ...]
        if head == "ls":
            flags = ("-I", "-w", "--block-size", "--format", "--time-style", "--color", "--quoting-style")
        else:
            flags = ("-I", "--ignore-glob", "--color", "--sort", "--time-style", "--time")
        p = _first_operand(tail, flags)
        return _list(cmd, short_display_path(p) if p else None)
    if head == "tree":
        p = _first_operand(tail, ("-L", "-P", "-I", "--charset", "--filelimit", "--sort"))
        return _list(cmd, short_display_path(p) if p else None)
    if head == "du":
        p = _first_operand(tail, ("-d", "--max-depth", "-B", "--block-size", "--exclude", "--time-style"))
        return _list(cmd, short_display_path(p) if p else None)
    if head in ("rg", "rga", "ripgrep-all"):
        args = _trim_at_connector(tail)
        non_flags = [a for a in _skip_flag_values(args, (
            "-g", "--glob", "--iglob", "-t", "--type", "--type-add", "--type-not", "-m", "--max-count",
            "-A", "-B", "-C", "--context", "--max-depth")) if not a.startswith("-")]
        if "--files" in args:
            return _list(cmd, short_display_path(non_flags[0]) if non_flags else None)
        return _search(
            cmd, non_flags[0] if non_flags else None, short_display_path(non_flags[1]) if len(non_flags) > 1 else None
        )
    if head == "git":
        if tail and tail[0] == "grep":
            return _grep_like(main, tail[1:])
        if tail and tail[0] == "ls-files":
            p = _first_operand(tail[1:], ("--exclude", "--exclude-from", "--pathspec-from-file"))
            return _list(cmd, short_display_path(p) if p else None)
        return _unknown(cmd)
    if head == "fd":
        args = _trim_at_connector(tail)
        value_flags: tuple[str, ...] = ("-t", "--type", "-e", "--extension", "-E", "--exclude", "--search-path")
        non_flags = [a for a in _skip_flag_values(args, value_flags) if not a.startswith("-")]
        query = path = None
        if len(non_flags) == 1:
            if _is_pathish(non_flags[0]):
                path = short_display_path(non_flags[0])
            else:
                query = non_flags[0]
        elif len(non_flags) >= 2:
            query, path = non_flags[0], short_display_path(non_flags[1])
        return _search(cmd, query, path) if query is not None else _list(cmd, path)
    if head == "find":
        args = _trim_at_connector(tail)
        path = next((short_display_path(a) for a in args if not a.startswith("-") and a not in ("!", "(", ")")), None)
        query = None
        for i, a in enumerate(args):
            if a in ("-name", "-iname", "-path", "-regex"):
                query = args[i + 1] if i + 1 < len(args) else None
                break
        return _search(cmd, query, path) if query is not None else _list(cmd, path)
    if head in ("grep", "egrep", "fgrep"):
        return _grep_like(main, tail)
    if head in ("ag", "ack", "pt"):
        args = _trim_at_connector(tail)
        value_flags = (
            "-G", "-g", "--file-search-regex", "--ignore-dir", "--ignore-file", "--path-to-ignore"
        )
        non_flags = [a for a in _skip_flag_values(args, value_flags) if not a.startswith("-")]
        return _search(
            cmd, non_flags[0] if non_flags else None, short_display_path(non_flags[1]) if len(non_flags) > 1 else None
        )
    single_flags = {
        "cat": (), "more": (),
        "bat": ("--theme", "--language", "--style", "--terminal-width", "--tabs", "--line-range", "--map-syntax"),
        "batcat": ("--theme", "--language", "--style", "--terminal-width", "--tabs", "--line-range", "--map-syntax"),
        "less": ("-p", "-P", "-x", "-y", "-z", "-j", "--pattern", "--prompt", "--tabs", "--shift", "--jump-target"),
    }
    if head in single_flags:
        p = _single_operand(tail, single_flags[head])
        return _read(cmd, short_display_path(p), p) if p else _unknown(cmd)
    if head in ("head", "tail"):
        return _head_tail_read(main, tail, allow_plus=head == "tail")
    if head == "awk":
        p = _awk_data_file(tail)
        return _read(cmd, short_display_path(p), p) if p else _unknown(cmd)
    if head == "nl":
        p = next((a for a in _skip_flag_values(tail, ("-s", "-w", "-v", "-i", "-b")) if not a.startswith("-")), None)
        return _read(cmd, short_display_path(p), p) if p else _unknown(cmd)
    if head == "sed":
        p = _sed_read_path(tail)
        return _read(cmd, short_display_path(p), p) if p else _unknown(cmd)
    if head in ("python", "python2", "python3") or head.startswith(("python2.", "python3.")):
        if _python_walks(tail):
            return _list(cmd, None)
    return _unknown(cmd)


def _python_walks(args: list[str]) -> bool:
    args = _trim_at_connector(args)
    for i, a in enumerate(args):
        if a == "-c" and i + 1 < len(args):
            script = args[i + 1]
            walkers = ("os.walk", "os.listdir", "os.scandir", "glob.glob", "glob.iglob", "pathlib.Path", ".rglob(")
            return any(k in script for k in walkers)
    return False


def _join_paths(base: str, rel: str) -> str:
    if os.path.isabs(rel) or not base:
        return rel
    return os.path.join(base, rel)


def _cd_target(args: list[str]) -> str | None:
    target = None
    for i, a in enumerate(args):
        if a == "--":
            return args[i + 1] if i + 1 < len(args) else None
        if a.startswith("-"):
            continue
        target = a
    return target


def _with_cd(commands: list[list[str]]) -> list[dict[str, Any]]:
    out = []
    cwd: str | None = None
    for tokens in commands:
        if tokens and tokens[0] == "cd":
            target = _cd_target(tokens[1:])
            if target is not None:
                cwd = _join_paths(cwd, target) if cwd else target
            continue
        action = summarize(tokens)
        if action["type"] == "read" and cwd:
            action = {**action, "path": _join_paths(cwd, action["path"])}
        out.append(action)
    return out


def _first_word(action: dict[str, Any]) -> str | None:
    words = _split(action["command"]) if action["type"] == "unknown" else None
    return words[0] if words else None


def _simplify_once(actions: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    if len(actions) <= 1:
        return None
    if actions[0]["type"] == "unknown" and _first_word(actions[0]) == "echo":
        return actions[1:]
    for i, a in enumerate(actions):
        if a["type"] == "unknown" and _first_word(a) == "cd" and len(actions) > i + 1:
            return actions[:i] + actions[i + 1:]
    for i, a in enumerate(actions):
        if a["type"] == "unknown" and a["command"] == "true":
            return actions[:i] + actions[i + 1:]
    for i, a in enumerate(actions):
        if a["type"] == "unknown":
            words = _split(a["command"])
            if words and words[0] == "nl" and all(w.startswith("-") for w in words[1:]):
                return actions[:i] + actions[i + 1:]
    return None


def _parse_script(script: str) -> list[dict[str, Any]]:
    commands = plain_commands(script)
    if not commands:
        return [_unknown(script)]
    script_tokens = _split(script) or [script]
    multiple = len(commands) > 1
    commands = [c for c in commands if not _is_small_formatting(c)]
    if not commands:
        return [_unknown(script)]
    actions = _with_cd(commands)
    if len(actions) > 1:
        actions = [a for a in actions if not (a["type"] == "unknown" and a["command"] == "true")]
        while (simpler := _simplify_once(actions)) is not None:
            actions = simpler
    if len(actions) == 1:
        connectors = multiple or any(t in _CONNECTORS for t in script_tokens)
        a = actions[0]
        if a["type"] == "read":
            if connectors:
                has_pipe = "|" in script_tokens
                has_sed_n = any(x == "sed" and y == "-n" for x, y in pairwise(script_tokens))
                if has_pipe and has_sed_n:
                    a = {**a, "command": script}
            else:
                a = {**a, "command": shlex_join(script_tokens)}
        elif a["type"] in ("listFiles", "search") and not connectors:
            a = {**a, "command": shlex_join(script_tokens)}
        actions = [a]
    return actions


def _parse_impl(command: list[str]) -> list[dict[str, Any]]:
    script = extract_bash_script(command)
    if script is not None:
        return _parse_script(script)
    tokens = list(command)
    if len(tokens) >= 2 and tokens[1] == "|" and tokens[0] in ("yes", "y", "no", "n"):
        tokens = tokens[2:]
    parts: list[list[str]] = []
    current: list[str] = []
    for t in tokens:
        if t in _CONNECTORS:
            if current:
                parts.append(current)
            current = []
        else:
            current.append(t)
    if current:
        parts.append(current)
    actions = _with_cd(parts)
    while (simpler := _simplify_once(actions)) is not None:
        actions = simpler
    return actions


def command_actions(command: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    """Pure: the ``commandActions`` of an argv (usually ``[shell, "-c", script]``)."""
    command = list(command)
    deduped: list[dict[str, Any]] = []
    for action in _parse_impl(command):
        if not deduped or deduped[-1] != action:
            deduped.append(action)
    if any(a["type"] == "unknown" for a in deduped):
        script = extract_bash_script(command)
        return [_unknown(script if script is not None else shlex_join(command))]
    return deduped


def resolved_in(actions: list[dict[str, Any]], cwd: str) -> list[dict[str, Any]]:
    """Pure: ``actions`` as a client sees them, a ``read`` path joined to the command's folder
    (0.169 sends it absolute, in items and approval prompts alike)."""
    return [{**a, "path": os.path.join(cwd, a["path"])} if a["type"] == "read" else a for a in actions]
