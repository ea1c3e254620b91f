"""Output kept for the model between polls: the first and last half-MiB, the middle counted.

A chatty command cannot grow memory: past ``max_bytes`` only the head and the most recent tail
stay, and the number of bytes dropped between them is reported as ``... N bytes omitted ...``.
"""

from __future__ import annotations

from rootstep.agent_tools.unified_exec.output import omission_marker

OUTPUT_MAX_BYTES = 1024 * 1024


class HeadTailBuffer:
    def __init__(self, max_bytes: int = OUTPUT_MAX_BYTES) -> None:
        self.head_budget = max_bytes // 2
        self.tail_budget = max_bytes - self.head_budget
        self.head = bytearray()
        self.tail = bytearray()
        self.omitted = 0

    @property
    def total_bytes(self) -> int:
        return len(self.head) + len(self.tail) + self.omitted

    def push(self, data: bytes) -> None:
        room = self.head_budget - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        excess = len(self.tail) - self.tail_budget
        if excess > 0:
            del self.tail[:excess]
            self.omitted += excess

    def to_bytes(self) -> bytes:
        if not self.omitted:
            return bytes(self.head + self.tail)
        return bytes(self.head) + b"\n" + omission_marker(self.omitted).encode() + b"\n" + bytes(self.tail)

    def drain(self) -> HeadTailBuffer:
        """Take everything buffered so far, leaving this buffer empty."""
        taken = HeadTailBuffer()
        taken.head_budget, taken.tail_budget = self.head_budget, self.tail_budget
        taken.head, taken.tail, taken.omitted = self.head, self.tail, self.omitted
        self.head, self.tail, self.omitted = bytearray(), bytearray(), 0
        return taken
