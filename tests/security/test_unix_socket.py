"""The unix-socket listener's folder (issue 16, item 6).

With a pre-existing 0777 ``app-server-control`` folder another local user could replace the
socket and receive the real client's handshake. codex 0.169 (checked against the binary, with
the same assertions below) resets the control folder to 0700, refuses it when it is not a real
folder (a symlink), and refuses a socket folder that another user owns or that others can write
to unless it is sticky: ``socket parent must be owned by the user or root and prevent other
users from replacing socket entries``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import unix_connect

from tests.conftest import reference_codex_path
from tests.e2e.test_listeners import ListeningServer, WsClient

pytestmark = pytest.mark.timeout(120)
SOCKET_PARENT_ERROR = (
    "socket parent must be owned by the user or root and prevent other users from replacing socket entries"
)


def refused(home: Path, listen: str, *, reference: bool = False) -> str:
    """Start the server on ``listen``; it must exit 1 at once. Returns its stderr."""
    if reference:
        path = reference_codex_path()
        if path is None:
            pytest.skip("reference codex binary absent")
        argv = [str(path), "app-server", "--listen", listen]
    else:
        argv = [sys.executable, "-m", "rootstep", "app-server", "--listen", listen]
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, text=True,
                          env={**os.environ, "CODEX_HOME": str(home), "RUST_LOG": "error"}, cwd=home)
    assert done.returncode == 1, done.stderr[-2000:]
    return done.stderr


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path: a unix socket path is limited to ~107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_world_writable_control_folder_is_made_private(short_tmp: Path) -> None:
    home = short_tmp / "home"
    control = home / "app-server-control"
    control.mkdir(parents=True)
    control.chmod(0o777)
    server = ListeningServer(home, "unix://")
    try:
        assert server.url() == f"unix://{control / 'app-server-control.sock'}"
        assert mode_of(control) == 0o700
        assert mode_of(control / "app-server-control.sock") == 0o600
        client = WsClient(home, unix_connect(str(control / "app-server-control.sock"), legacy=True))
        client.initialize()
        client.close()
        assert server.terminate() == 0
    finally:
        server.kill()


@pytest.mark.parametrize("reference", [False, True], ids=["rootstep", "reference"])
@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_socket_folder_others_can_write_is_refused(tmp_path: Path, mode: int, reference: bool) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    stderr = refused(tmp_path / "home", f"unix://{folder / 's.sock'}", reference=reference)
    assert SOCKET_PARENT_ERROR in stderr
    assert not (folder / "s.sock").exists() and mode_of(folder) == mode  # left as it was


@pytest.mark.parametrize("reference", [False, True], ids=["rootstep", "reference"])
def test_a_symlinked_control_folder_is_refused(tmp_path: Path, reference: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (home / "app-server-control").symlink_to(elsewhere)
    stderr = refused(home, "unix://", reference=reference)
    assert f"socket directory path exists and is not a directory: {home / 'app-server-control'}" in stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("reference", [False, True], ids=["rootstep", "reference"])
def test_a_socket_folder_another_user_owns_is_refused(tmp_path: Path, reference: bool) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o755)
    os.chown(folder, 65534, 65534)
    stderr = refused(tmp_path / "home", f"unix://{folder / 's.sock'}", reference=reference)
    assert SOCKET_PARENT_ERROR in stderr


def test_a_sticky_shared_folder_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "sticky"
    folder.mkdir()
    folder.chmod(0o1777)
    (tmp_path / "home").mkdir()
    server = ListeningServer(tmp_path / "home", f"unix://{folder / 's.sock'}")
    try:
        assert server.url() == f"unix://{folder / 's.sock'}"
        assert mode_of(folder) == 0o1777  # a folder that is not ours is not changed
        assert server.terminate() == 0
    finally:
        server.kill()
