"""The line diff: its opcodes rebuild the new text and are a shortest edit script."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings, strategies as st

from rootstep.agent_tools.textdiff import opcodes, split_lines, unified_hunks

_text = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "a"]), max_size=12).map("".join)


def _lcs(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    @cache
    def go(i: int, j: int) -> int:
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + go(i + 1, j + 1)
        return max(go(i + 1, j), go(i, j + 1))

    return go(0, 0)


@settings(max_examples=400, deadline=None)
@given(_text, _text)
def test_opcodes_rebuild_and_are_minimal(old, new):
    a, b = split_lines(old), split_lines(new)
    ops = opcodes(a, b)
    rebuilt, equal = [], 0
    for op in ops:
        if op.tag == "equal":
            assert a[op.a0:op.a1] == b[op.b0:op.b1]
            equal += op.a1 - op.a0
        rebuilt += b[op.b0:op.b1]
    assert "".join(rebuilt) == new
    assert equal == _lcs(tuple(a), tuple(b))


def test_hunk_format_is_gits():
    assert unified_hunks("x\n", "x\n") == ""
    assert unified_hunks("", "a\nb\n") == "@@ -0,0 +1,2 @@\n+a\n+b\n"
    assert unified_hunks("a\n", "") == "@@ -1 +0,0 @@\n-a\n"
    assert unified_hunks("a", "a\n") == "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    old = "".join(f"line{i}\n" for i in range(20))
    new = old.replace("line3\n", "three\n").replace("line15\n", "fifteen\n")
    assert unified_hunks(old, new, context=1) == (
        "@@ -3,3 +3,3 @@\n line2\n-line3\n+three\n line4\n"
        "@@ -15,3 +15,3 @@\n line14\n-line15\n+fifteen\n line16\n")
    assert unified_hunks(old, new).count("@@ -") == 2  # 11 equal lines apart: two hunks with context 3
