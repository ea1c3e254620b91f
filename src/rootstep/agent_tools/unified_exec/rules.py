"""Exec-policy prefix rules: ``prefix_rule(pattern=[...], decision="allow"|"prompt"|"forbidden",
justification="...")`` entries of ``$CODEX_HOME/rules/*.rules`` (and ``<project>/.codex/rules``),
the Starlark files 0.169 reads.

Only literal ``prefix_rule`` calls are understood (a pattern element may be a list of
alternatives); the ``match``/``not_match`` examples and other Starlark are ignored. An
``acceptWithExecpolicyAmendment`` decision appends ``prefix_rule(pattern=[...], decision="allow")``
to ``rules/default.rules`` as 0.169 does.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from typing import Literal, cast

Decision = Literal["allow", "prompt", "forbidden"]
_CALL = re.compile(r"prefix_rule\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class PrefixRule:
    pattern: tuple[tuple[str, ...], ...]  # each position: its alternatives
    decision: Decision
    justification: str | None = None

    def matches(self, command: list[str]) -> bool:
        if len(command) < len(self.pattern):
            return False
        return all(command[i] in alts for i, alts in enumerate(self.pattern))


@dataclass(frozen=True)
class RuleMatch:
    prefix: tuple[str, ...]
    decision: Decision
    justification: str | None


_RANK = {"allow": 0, "prompt": 1, "forbidden": 2}


@dataclass(frozen=True)
class PrefixRules:
    rules: tuple[PrefixRule, ...] = field(default_factory=tuple)

    def match(self, command: list[str]) -> RuleMatch | None:
        """The strictest matching rule (forbidden > prompt > allow)."""
        best: PrefixRule | None = None
        for rule in self.rules:
            if rule.matches(command) and (best is None or _RANK[rule.decision] > _RANK[best.decision]):
                best = rule
        if best is None:
            return None
        return RuleMatch(tuple(command[: len(best.pattern)]), best.decision, best.justification)

    def with_rule(self, prefix: tuple[str, ...], decision: Decision) -> PrefixRules:
        return PrefixRules(self.rules + (PrefixRule(tuple((p,) for p in prefix), decision),))


class RulesError(ValueError):
    pass


def parse_rules(text: str, source: str = "<rules>") -> PrefixRules:
    rules = []
    for m in _CALL.finditer(text):
        start = m.end() - 1
        depth, i = 0, start
        while i < len(text):
            ch = text[i]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    break
            elif ch in "\"'":
                quote = ch
                i += 1
                while i < len(text) and text[i] != quote:
                    i += 2 if text[i] == "\\" else 1
            i += 1
        try:
            call = ast.parse("f" + text[start:i + 1], mode="eval").body
        except SyntaxError as exc:
            raise RulesError(f"{source}: cannot parse prefix_rule: {exc.msg}") from None
        kwargs = {k.arg: k.value for k in call.keywords}  # type: ignore[attr-defined]
        try:
            pattern = ast.literal_eval(kwargs["pattern"])
            decision = ast.literal_eval(kwargs["decision"]) if "decision" in kwargs else "allow"
            justification = ast.literal_eval(kwargs["justification"]) if "justification" in kwargs else None
        except (KeyError, ValueError) as exc:
            raise RulesError(f"{source}: prefix_rule needs a literal `pattern`: {exc}") from None
        if decision not in ("allow", "prompt", "forbidden") or not isinstance(pattern, list) or not pattern:
            raise RulesError(f"{source}: invalid prefix_rule")
        alts = tuple(tuple(p) if isinstance(p, list) else (p,) for p in pattern)
        rules.append(PrefixRule(alts, cast(Decision, decision), justification))
    return PrefixRules(tuple(rules))


def load_rules(folders: list[str]) -> PrefixRules:
    """Every ``*.rules`` file of ``<folder>/rules`` for each config folder, lowest precedence first."""
    out: list[PrefixRule] = []
    for folder in folders:
        directory = os.path.join(folder, "rules")
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(".rules"):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as f:
                    out += parse_rules(f.read(), path).rules
    return PrefixRules(tuple(out))


def append_allow_rule(codex_home: str, prefix: tuple[str, ...]) -> str:
    """Persist an approved amendment; returns the file written."""
    path = os.path.join(codex_home, "rules", "default.rules")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f'prefix_rule(pattern={json.dumps(list(prefix))}, decision="allow")\n')
    return path
