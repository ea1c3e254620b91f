"""The shell this machine reports (``environment/info``, the command lines of items): 0.169 takes the login
shell of the passwd entry, not ``$SHELL`` and not the first bash on ``PATH``."""

from __future__ import annotations

import os
import pwd

import pytest

from rootstep.host import environment_info, host_shell


def test_the_login_shell_wins_over_shell_and_path(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    login = pwd.getpwuid(os.getuid()).pw_shell
    if os.path.basename(login) not in {"bash", "zsh", "sh"}:
        pytest.skip(f"login shell {login} is not one 0.169 recognises")
    decoy = tmp_path / "bash"
    decoy.write_text("#!/bin/sh\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("SHELL", str(decoy))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert host_shell() == login
    shell = environment_info()["shell"]
    assert shell == {"name": os.path.basename(login), "path": login}
