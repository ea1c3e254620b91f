"""The text the model gets back from ``exec_command`` / ``write_stdin``, as pure functions.

Token counts are codex's estimate (4 bytes a token, rounded up). Output over the budget keeps
its head and tail around ``…N tokens truncated…`` and is prefixed by a warning with the
original token count and line count::

    Chunk ID: 5f75fd
    Wall time: 0.2515 seconds
    Process exited with code 0        | Process running with session ID 59439
    Original token count: 17
    Output:
    <output>
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BYTES_PER_TOKEN = 4
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
# The model's own limit on tool output (0.169's default model info: 10,000 bytes).
DEFAULT_TRUNCATION_BYTES = 10_000


def approx_token_count(text: str) -> int:
    return (len(text.encode()) + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def approx_tokens_from_bytes(count: int) -> int:
    return (count + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def _split_at_budget(text: str, head_bytes: int, tail_bytes: int) -> tuple[str, str]:
    """The longest prefix within ``head_bytes`` and the suffix starting at or after the char
    boundary ``tail_bytes`` from the end, on character boundaries."""
    data = text.encode()
    total = len(data)
    tail_start_target = max(total - tail_bytes, 0)
    prefix_end = 0
    suffix_start = total
    offset = 0
    started = False
    for ch in text:
        size = len(ch.encode())
        end = offset + size
        if end <= head_bytes:
            prefix_end = end
        elif offset >= tail_start_target and not started:
            suffix_start = offset
            started = True
        offset = end
    suffix_start = max(suffix_start, prefix_end)
    return data[:prefix_end].decode(), data[suffix_start:].decode()


def truncate_middle_tokens(text: str, max_tokens: int) -> str:
    """Keep the head and tail of ``text`` within ``max_tokens`` (4 bytes each)."""
    if not text:
        return ""
    budget = max_tokens * BYTES_PER_TOKEN
    size = len(text.encode())
    if max_tokens > 0 and size <= budget:
        return text
    if budget == 0:
        return f"…{approx_tokens_from_bytes(size)} tokens truncated…"
    head, tail = _split_at_budget(text, budget // 2, budget - budget // 2)
    return f"{head}…{approx_tokens_from_bytes(size - budget)} tokens truncated…{tail}"


def formatted_truncate(text: str, max_tokens: int) -> str:
    """Truncated output with codex's warning header (unchanged when within budget)."""
    if len(text.encode()) <= max_tokens * BYTES_PER_TOKEN:
        return text
    lines = len(text.splitlines())
    return (
        f"Warning: truncated output (original token count: {approx_token_count(text)})\n"
        f"Total output lines: {lines}\n\n{truncate_middle_tokens(text, max_tokens)}"
    )


def omission_marker(omitted_bytes: int) -> str:
    return f"... {omitted_bytes} bytes omitted ..."


def generate_chunk_id(rng: random.Random | None = None) -> str:
    r = rng or random
    return "".join(f"{r.randrange(16):x}" for _ in range(6))


@dataclass(frozen=True)
class ExecOutput:
    """One function output of unified exec."""

    chunk_id: str
    wall_time_s: float
    output: bytes
    exit_code: int | None = None
    session_id: int | None = None
    original_token_count: int | None = None
    omitted_bytes: int = 0
    max_output_tokens: int | None = None
    truncation_tokens: int = DEFAULT_TRUNCATION_BYTES // BYTES_PER_TOKEN

    def model_max_tokens(self) -> int:
        requested = self.max_output_tokens if self.max_output_tokens is not None else DEFAULT_MAX_OUTPUT_TOKENS
        return min(requested, self.truncation_tokens)

    def truncated_output(self) -> str:
        text = self.output.decode("utf-8", "replace")
        max_tokens = self.model_max_tokens()
        if not self.omitted_bytes:
            return formatted_truncate(text, max_tokens)
        marker = omission_marker(self.omitted_bytes)
        if len(text.encode()) <= max_tokens * BYTES_PER_TOKEN:
            return text if marker in text else f"{marker}\n{text}"
        original = self.original_token_count if self.original_token_count is not None else approx_token_count(text)
        truncated = truncate_middle_tokens(text, max_tokens)
        notice = "" if marker in truncated else f"{marker}\n"
        return f"Warning: truncated output (original token count: {original})\n{notice}\n{truncated}"

    def text(self) -> str:
        sections = []
        if self.chunk_id:
            sections.append(f"Chunk ID: {self.chunk_id}")
        sections.append(f"Wall time: {self.wall_time_s:.4f} seconds")
        if self.exit_code is not None:
            sections.append(f"Process exited with code {self.exit_code}")
        if self.session_id is not None:
            sections.append(f"Process running with session ID {self.session_id}")
        if self.original_token_count is not None:
            sections.append(f"Original token count: {self.original_token_count}")
        sections.append("Output:")
        sections.append(self.truncated_output())
        return "\n".join(sections)
