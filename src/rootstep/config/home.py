"""The home folder: ``$CODEX_HOME`` (same variable as Codex, so tests and clients agree), else
``~/.rootstep`` — never ``~/.codex``, so rootstep does not touch a real Codex installation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def codex_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get("CODEX_HOME")
    if value:
        return Path(value).expanduser().resolve()
    return (Path.home() / ".rootstep").resolve()
