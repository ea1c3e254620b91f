"""This machine as an executor describes it: its shell and working directory (standard library
only, so the stdio executor's first answer needs nothing else)."""

from __future__ import annotations

import os
import pwd
import shutil

from rootstep.file_uri import path_to_uri

_KNOWN_SHELLS = {"bash": ("/bin/bash", "/usr/bin/bash"), "zsh": ("/bin/zsh",), "sh": ("/bin/sh",)}


def _login_shell() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_shell or None
    except (KeyError, OSError):
        return None


def _shell_of_kind(kind: str, login: str | None) -> str | None:
    """0.169's lookup for one kind of shell: the login shell if it is one, else ``PATH``, else the usual places."""
    if login and os.path.basename(login) == kind and os.path.isfile(login):
        return login
    found = shutil.which(kind)
    if found:
        return found
    return next((p for p in _KNOWN_SHELLS[kind] if os.path.isfile(p)), None)


def host_shell() -> str:
    """The user's shell as 0.169 picks it: the login shell of the passwd entry (not ``$SHELL``) when it is
    bash, zsh or sh, else bash, else zsh, else ``/bin/sh``."""
    login = _login_shell()
    kind = os.path.basename(login) if login else None
    kinds = ([kind] if kind in _KNOWN_SHELLS else []) + ["bash", "zsh"]
    return next((found for k in kinds if (found := _shell_of_kind(k, login))), "/bin/sh")


def environment_info(cwd: str | None = None) -> dict[str, object]:
    """``environment/info`` (and the ``initialize`` result's ``environmentInfo``), in wire form."""
    shell = host_shell()
    return {
        "shell": {"name": os.path.basename(shell), "path": shell},
        "cwd": path_to_uri(cwd or os.getcwd()),
        "capabilities": {"networkProxyLaunch": False},
    }
