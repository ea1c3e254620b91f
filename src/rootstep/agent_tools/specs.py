"""The tool definitions 0.169 sends the model, verbatim (``data/tool_specs.json``, captured
from ``model.requests[0].body["tools"]`` of the reference)."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any, cast


@functools.cache
def _specs() -> dict[str, dict[str, Any]]:
    text = resources.files("rootstep.agent_tools").joinpath("data/tool_specs.json").read_text("utf-8")
    return cast(dict[str, dict[str, Any]], json.loads(text))


def tool_spec(name: str) -> dict[str, Any]:
    """A fresh copy of one tool's Responses-API definition (``apply_patch`` is a custom tool)."""
    return copy.deepcopy(_specs()[name])
