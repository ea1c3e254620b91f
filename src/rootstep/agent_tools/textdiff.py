"""Line diffs in the unified format 0.169 puts on the wire (fileChange items, turn diffs).

A Myers shortest-edit-script diff (the algorithm git and the reference use) over lines split
on ``\\n`` with their newline kept, grouped into hunks with ``context`` lines around each
change, rendered like ``git diff``: ``@@ -a,b +c,d @@`` headers (a count of 1 omitted, an empty
range written ``-a,0``), deletions before insertions, and ``\\ No newline at end of file``
after a last line that has no newline. Pure functions, no IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NO_NEWLINE = "\\ No newline at end of file\n"


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept; a final line without one stays as it is."""
    if not text:
        return []
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


@dataclass(frozen=True)
class Opcode:
    tag: str  # "equal" | "delete" | "insert" | "replace"
    a0: int
    a1: int
    b0: int
    b1: int


def _myers_middle(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int]]:
    """Edit script ("=", "-", "+") for ``a`` → ``b`` (greedy O(ND) Myers with backtracking)."""
    n, m = len(a), len(b)
    if n == 0:
        return [("+", 0, j) for j in range(m)]
    if m == 0:
        return [("-", i, 0) for i in range(n)]
    offset = n + m
    v = [0] * (2 * offset + 2)
    trace: list[list[int]] = []
    found = False
    for d in range(offset + 1):
        trace.append(v.copy())
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]  # step down: an insertion
            else:
                x = v[offset + k - 1] + 1  # step right: a deletion
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[offset + k] = x
            if x >= n and y >= m:
                found = True
                break
        if found:
            break
    script: list[tuple[str, int, int]] = []
    x, y = n, m
    for d in range(len(trace) - 1, -1, -1):
        vd = trace[d]
        k = x - y
        if k == -d or (k != d and vd[offset + k - 1] < vd[offset + k + 1]):
            prev_k = k + 1
        else:
            prev_k = k - 1
        prev_x = vd[offset + prev_k]
        prev_y = prev_x - prev_k
        while x > prev_x and y > prev_y:
            x -= 1
            y -= 1
            script.append(("=", x, y))
        if d > 0:
            if x == prev_x:
                y -= 1
                script.append(("+", x, y))
            else:
                x -= 1
                script.append(("-", x, y))
    script.reverse()
    return script


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """difflib-style opcodes; a change region is one ``replace`` (deletions, then insertions)."""
    prefix = 0
    while prefix < len(a) and prefix < len(b) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len(a) - prefix and suffix < len(b) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    middle = _myers_middle(a[prefix : len(a) - suffix], b[prefix : len(b) - suffix])
    ops: list[Opcode] = []
    if prefix:
        ops.append(Opcode("equal", 0, prefix, 0, prefix))
    i, j = prefix, prefix
    index = 0
    while index < len(middle):
        kind = middle[index][0]
        if kind == "=":
            start_i, start_j = i, j
            while index < len(middle) and middle[index][0] == "=":
                i += 1
                j += 1
                index += 1
            ops.append(Opcode("equal", start_i, i, start_j, j))
            continue
        start_i, start_j = i, j
        while index < len(middle) and middle[index][0] != "=":
            if middle[index][0] == "-":
                i += 1
            else:
                j += 1
            index += 1
        tag = "replace" if i > start_i and j > start_j else ("delete" if i > start_i else "insert")
        ops.append(Opcode(tag, start_i, i, start_j, j))
    if suffix:
        ops.append(Opcode("equal", len(a) - suffix, len(a), len(b) - suffix, len(b)))
    return ops


def grouped(ops: list[Opcode], context: int) -> list[list[Opcode]]:
    """Hunks: runs of changes with at most ``2 * context`` equal lines between them."""
    if not any(op.tag != "equal" for op in ops):
        return []
    ops = list(ops)
    if ops[0].tag == "equal":
        o = ops[0]
        ops[0] = Opcode("equal", max(o.a0, o.a1 - context), o.a1, max(o.b0, o.b1 - context), o.b1)
    if ops[-1].tag == "equal":
        o = ops[-1]
        ops[-1] = Opcode("equal", o.a0, min(o.a1, o.a0 + context), o.b0, min(o.b1, o.b0 + context))
    groups: list[list[Opcode]] = []
    current: list[Opcode] = []
    for op in ops:
        if op.tag == "equal" and op.a1 - op.a0 > 2 * context:
            current.append(Opcode("equal", op.a0, min(op.a1, op.a0 + context), op.b0, min(op.b1, op.b0 + context)))
            groups.append(current)
            current = [Opcode("equal", max(op.a0, op.a1 - context), op.a1, max(op.b0, op.b1 - context), op.b1)]
        else:
            current.append(op)
    if current and not (len(current) == 1 and current[0].tag == "equal"):
        groups.append(current)
    return [g for g in groups if any(op.tag != "equal" for op in g)]


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _emit(prefix: str, line: str) -> str:
    return f"{prefix}{line}" if line.endswith("\n") else f"{prefix}{line}\n{NO_NEWLINE}"


def unified_hunks(old: str, new: str, *, context: int = 3) -> str:
    """Only the ``@@`` hunks (no file headers); empty when the texts are equal."""
    a, b = split_lines(old), split_lines(new)
    out: list[str] = []
    for group in grouped(opcodes(a, b), context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first.a0, last.a1)} +{_range(first.b0, last.b1)} @@\n")
        for op in group:
            if op.tag == "equal":
                out += [_emit(" ", line) for line in a[op.a0 : op.a1]]
                continue
            out += [_emit("-", line) for line in a[op.a0 : op.a1]]
            out += [_emit("+", line) for line in b[op.b0 : op.b1]]
    return "".join(out)
