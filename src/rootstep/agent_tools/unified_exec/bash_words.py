"""Plain commands out of a ``bash -c`` script, with the tree-sitter bash grammar codex uses.

A script qualifies only if it is words and quoted strings joined by ``&&``, ``||``, ``;`` and
``|`` — no expansions, substitutions, redirections or subshells. Such scripts can be judged
command by command (known-safe lists, exec-policy rules, display summaries); anything else is
treated as one opaque script.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

_ALLOWED_KINDS = frozenset({
    "program", "list", "pipeline", "command", "command_name", "word", "string", "string_content",
    "raw_string", "number", "concatenation",
})
_ALLOWED_PUNCT = frozenset({"&&", "||", ";", "|", '"', "'"})
_SHELLS = frozenset({"bash", "zsh", "sh"})


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def extract_bash_script(command: list[str] | tuple[str, ...]) -> str | None:
    """The script of ``[<bash|zsh|sh>, -c|-lc, script]``."""
    if len(command) != 3 or command[1] not in ("-c", "-lc"):
        return None
    name = os.path.basename(command[0])
    if name not in _SHELLS:
        return None
    return command[2]


def _text(node: Any) -> str:
    text: bytes = node.text
    return text.decode("utf-8", "replace")


def _double_quoted(node: Any) -> str | None:
    parts = node.named_children
    if any(p.type != "string_content" for p in parts):
        return None
    text = _text(node)
    if not (text.startswith('"') and text.endswith('"')):
        return None
    return text[1:-1]


def _raw(node: Any) -> str | None:
    text = _text(node)
    if not (text.startswith("'") and text.endswith("'")):
        return None
    return text[1:-1]


def _word(node: Any) -> str | None:
    if node.type in ("word", "number"):
        return _text(node)
    if node.type == "string":
        return _double_quoted(node)
    if node.type == "raw_string":
        return _raw(node)
    return None


def _plain_command(node: Any) -> list[str] | None:
    words: list[str] = []
    for child in node.named_children:
        if child.type == "command_name":
            inner = child.named_children[0] if child.named_children else None
            if inner is None or inner.type != "word":
                return None
            words.append(_text(inner))
        elif child.type in ("word", "number", "string", "raw_string"):
            word = _word(child)
            if word is None:
                return None
            words.append(word)
        elif child.type == "concatenation":
            pieces = [_word(part) for part in child.named_children]
            if any(p is None for p in pieces) or not "".join(pieces):  # type: ignore[arg-type]
                return None
            words.append("".join(pieces))  # type: ignore[arg-type]
        else:
            return None
    return words


def plain_commands(script: str) -> list[list[str]] | None:
    """Pure: the commands of a word-only script, in source order; None when it is not one."""
    tree = _parser().parse(script.encode())
    root = tree.root_node
    if root.has_error:
        return None
    commands = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_named:
            if node.type not in _ALLOWED_KINDS:
                return None
            if node.type == "command":
                commands.append(node)
        elif node.type not in _ALLOWED_PUNCT and node.type.strip():
            return None
        stack.extend(node.children)
    commands.sort(key=lambda n: n.start_byte)
    out = []
    for node in commands:
        words = _plain_command(node)
        if words is None:
            return None
        out.append(words)
    return out


def shell_plain_commands(command: list[str] | tuple[str, ...]) -> list[list[str]] | None:
    """``plain_commands`` of a ``bash -lc "…"`` invocation."""
    script = extract_bash_script(command)
    return None if script is None else plain_commands(script)
