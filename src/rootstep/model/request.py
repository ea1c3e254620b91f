"""One Responses API request, as the turn loop builds it (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelRequest:
    """One ``POST /responses`` body, before the SDK adds ``stream: true``."""

    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    parallel_tool_calls: bool = False
    prompt_cache_key: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": self.input,
            "tools": self.tools,
            "tool_choice": "auto",
            "parallel_tool_calls": self.parallel_tool_calls,
            "store": False,
            # Reasoning models return their reasoning encrypted, so it can be replayed.
            "include": ["reasoning.encrypted_content"] if self.reasoning else [],
        }
        if self.instructions:
            body["instructions"] = self.instructions
        if self.prompt_cache_key:
            body["prompt_cache_key"] = self.prompt_cache_key
        if self.reasoning:
            body["reasoning"] = self.reasoning
        if self.text:
            body["text"] = self.text
        return body
