"""The ``exec_command`` / ``write_stdin`` definitions exactly as 0.169 offers them to the model
(captured from its first Responses request; stored beside this module as JSON)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

EXEC_COMMAND = "exec_command"
WRITE_STDIN = "write_stdin"
TOOL_NAMES = (EXEC_COMMAND, WRITE_STDIN)


@lru_cache(maxsize=1)
def _specs() -> dict[str, dict[str, Any]]:
    raw = json.loads(resources.files(__package__).joinpath("tool_specs.json").read_text(encoding="utf-8"))
    return {spec["name"]: spec for spec in raw}


def tool_definitions() -> list[dict[str, Any]]:
    """The Responses ``tools`` entries (fresh copies: callers may mutate them)."""
    specs = _specs()
    return [copy.deepcopy(specs[name]) for name in TOOL_NAMES]
