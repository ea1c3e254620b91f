"""The home folder: ``$CODEX_HOME`` (same variable as Codex, so tests and clients agree), else
``~/.rootstep`` — never ``~/.codex``, so rootstep does not touch a real Codex installation.

Only ``os`` at import time: the app-server reports the home in its fast ``initialize`` answer,
before heavier modules (even ``pathlib``) are loaded.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs ~2 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def codex_home_str(env: "Mapping[str, str] | None" = None) -> str:
    env = os.environ if env is None else env
    value = env.get("CODEX_HOME")
    if value:
        return os.path.realpath(os.path.expanduser(value))
    return os.path.realpath(os.path.join(os.path.expanduser("~"), ".rootstep"))


def codex_home(env: "Mapping[str, str] | None" = None) -> "Path":
    from pathlib import Path

    return Path(codex_home_str(env))
