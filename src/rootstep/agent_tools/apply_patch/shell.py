"""Recognising a patch sent through the shell: ``apply_patch <<'EOF' … EOF`` as a command.

0.169 handles such a command as a patch (same checks, items and approvals) instead of running
a program. Recognised forms, for ``argv`` as the shell tools build it:

* ``["apply_patch" | "applypatch", "<patch>"]`` (the patch text as the one argument);
* ``[bash|zsh|sh, -c|-lc, script]``, ``[pwsh|powershell, (-NoProfile,) -Command, script]`` or
  ``[cmd, /c, script]`` where the script's only top-level statement is
  ``apply_patch <<DELIM … DELIM`` or ``cd <dir> && apply_patch <<DELIM … DELIM`` (``cd``
  with exactly one plain, double-quoted or single-quoted argument), parsed with the bash
  tree-sitter grammar the reference uses; the heredoc body, trailing newlines removed, is the
  patch and ``<dir>`` (if any) is joined to the working directory.

A bare patch given as the whole command (or the whole script) is not run either: it gets
:data:`IMPLICIT_INVOCATION`. Anything else is an ordinary command.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rootstep.agent_tools.apply_patch.parser import PatchParseError, parse_patch

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Query

APPLY_PATCH_COMMANDS = ("apply_patch", "applypatch")
IMPLICIT_INVOCATION = 'patch detected without explicit call to apply_patch. Rerun as ["apply_patch", "<patch>"]'

_QUERY = """
(
  program
    . (redirected_statement
        body: (command name: (command_name (word) @apply_name) .)
        (#any-of? @apply_name "apply_patch" "applypatch")
        redirect: (heredoc_redirect . (heredoc_start) . (heredoc_body) @heredoc . (heredoc_end) .))
    .)
(
  program
    . (redirected_statement
        body: (list
                . (command
                    name: (command_name (word) @cd_name) .
                    argument: [ (word) @cd_path (string (string_content) @cd_path) (raw_string) @cd_raw_string ] .)
                "&&"
                . (command name: (command_name (word) @apply_name))
                .)
        (#eq? @cd_name "cd")
        (#any-of? @apply_name "apply_patch" "applypatch")
        redirect: (heredoc_redirect . (heredoc_start) . (heredoc_body) @heredoc . (heredoc_end) .))
    .)
"""


@dataclass(frozen=True)
class ShellPatch:
    """A patch found in a command: ``text`` to parse, ``workdir`` (from ``cd``) relative to cwd."""

    text: str
    workdir: str | None = None


@dataclass(frozen=True)
class ImplicitPatch:
    """The command is a bare patch: answer :data:`IMPLICIT_INVOCATION` instead of running it."""


@functools.cache
def _bash() -> tuple[Parser, Query]:
    import tree_sitter_bash
    from tree_sitter import Language, Parser, Query

    language = Language(tree_sitter_bash.language())
    return Parser(language), Query(language, _QUERY)


def _node_text(node: Node) -> str:
    return (node.text or b"").decode()


def _shell_kind(program: str) -> str:
    base = program.replace("\\", "/").rsplit("/", 1)[-1]
    stem, _, ext = base.rpartition(".")
    return (stem if stem and ext else base).lower()


def _script(argv: Sequence[str]) -> str | None:
    """The script of ``[shell, flag, script]`` (or PowerShell's ``-NoProfile`` form)."""
    if len(argv) == 4 and _shell_kind(argv[0]) in ("pwsh", "powershell") and argv[1].lower() == "-noprofile":
        argv = [argv[0], argv[2], argv[3]]
    if len(argv) != 3:
        return None
    shell, flag, script = argv
    kind = _shell_kind(shell)
    if kind in ("bash", "zsh", "sh") and flag in ("-lc", "-c"):
        return script
    if kind in ("pwsh", "powershell") and flag.lower() == "-command":
        return script
    if kind == "cmd" and flag.lower() == "/c":
        return script
    return None


def extract_heredoc(script: str) -> ShellPatch | None:
    """The patch of a ``(cd <dir> &&) apply_patch <<EOF`` script, or None for anything else."""
    from tree_sitter import QueryCursor

    parser, query = _bash()
    data = script.encode()
    tree = parser.parse(data)
    for _, captures in QueryCursor(query).matches(tree.root_node):
        heredoc = captures.get("heredoc")
        if not heredoc:
            continue
        body = _node_text(heredoc[0]).rstrip("\n")
        workdir = None
        if captures.get("cd_path"):
            workdir = _node_text(captures["cd_path"][0])
        elif captures.get("cd_raw_string"):
            raw = _node_text(captures["cd_raw_string"][0])
            workdir = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw
        return ShellPatch(body, workdir)
    return None


def _is_patch(text: str) -> bool:
    try:
        parse_patch(text)
    except PatchParseError:
        return False
    return True


def detect_apply_patch(argv: Sequence[str]) -> ShellPatch | ImplicitPatch | None:
    """What a shell-tool command is: a patch to apply, a bare patch, or (None) a real command."""
    argv = list(argv)
    if len(argv) == 1 and _is_patch(argv[0]):
        return ImplicitPatch()
    script = _script(argv)
    if script is not None and _is_patch(script):
        return ImplicitPatch()
    if len(argv) == 2 and argv[0] in APPLY_PATCH_COMMANDS:
        return ShellPatch(argv[1])
    if script is None:
        return None
    return extract_heredoc(script)


def detect_in_exec_command(
    cmd: str, shell: str = "/bin/bash", *, login: bool = False
) -> ShellPatch | ImplicitPatch | None:
    """``exec_command``'s ``cmd`` runs as ``[shell, -c|-lc, cmd]``: check that argv."""
    return detect_apply_patch([shell, "-lc" if login else "-c", cmd])
