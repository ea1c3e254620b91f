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


def codex_home_str(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = env.get("CODEX_HOME")
    if value:
        return os.path.realpath(os.path.expanduser(value))
    return os.path.realpath(os.path.join(os.path.expanduser("~"), ".rootstep"))


def codex_home(env: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    return Path(codex_home_str(env))


def make_private_dirs(path: str | os.PathLike[str]) -> None:
    """Create ``path`` and its missing parents, each new folder 0700 (conversations and
    credentials live under the home: only their owner may list them). Existing folders are
    left as they are."""
    missing: list[str] = []
    current = os.path.abspath(os.fspath(path))
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
