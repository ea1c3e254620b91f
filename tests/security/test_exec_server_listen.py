"""Who can reach an exec-server's websocket (issue 16, item 8).

``exec-server --listen`` accepted ``ws://0:0`` (which binds 0.0.0.0), ``localhost``, ``127.1``
and ``2130706433``, and had no authentication: anyone reaching the port ran commands. Now the
address is a literal ``IP:PORT`` (codex 0.169's parse, same message), ``--ws-auth
capability-token`` / ``signed-bearer-token`` work as in 0.169 (same flags, same ``401`` texts;
checked against the binary with the same assertions), and a non-loopback address without auth
is refused (0.169 binds it).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import jwt
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import reference_codex_path

pytestmark = pytest.mark.timeout(120)
TOKEN = "s3cret-capability-token"
SECRET = "a-shared-secret-of-at-least-32-bytes!!"


@pytest.fixture(params=["rootstep", "reference"])
def exec_server(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "reference":
        path = reference_codex_path()
        if path is None:
            request.getfixturevalue("reference_codex")
        return [str(path), "exec-server"]
    return [sys.executable, "-m", "rootstep", "exec-server"]


def refusal(argv: list[str]) -> str:
    """Run ``argv``; it must exit at once with an error (1 for codex, 2 for rootstep). Its stderr."""
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, text=True)
    assert done.returncode in (1, 2), done
    assert done.stdout == ""
    return done.stderr


@contextmanager
def serving(argv: list[str]) -> Iterator[str]:
    """Start ``argv`` (a websocket exec-server); yields the URL it prints on stdout."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("ws://"), url
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def upgrade(url: str, authorization: str | None) -> tuple[int, str]:
    """Open a websocket (with this ``Authorization``) and run the handshake: (101, sessionId) or
    (status, body) of the refusal."""
    headers = {"Authorization": authorization} if authorization is not None else None
    try:
        with connect(url, additional_headers=headers, open_timeout=20) as ws:
            ws.send(json.dumps({"id": 1, "method": "initialize", "params": {"clientName": "t"}}))
            answer = json.loads(ws.recv(timeout=20))
            return 101, answer["result"]["sessionId"]
    except InvalidStatus as exc:
        return exc.response.status_code, exc.response.body.decode()


@pytest.mark.parametrize("listen", ["ws://0:0", "ws://localhost:0", "ws://127.1:0", "ws://2130706433:0"])
def test_only_literal_addresses_are_accepted(exec_server: list[str], listen: str) -> None:
    stderr = refusal([*exec_server, "--listen", listen])
    assert f"invalid websocket --listen URL `{listen}`; expected `ws://IP:PORT`" in stderr


@pytest.mark.parametrize("listen", ["ws://0.0.0.0:0", "ws://[::]:0"])
def test_a_non_loopback_listener_needs_auth(listen: str) -> None:
    stderr = refusal([sys.executable, "-m", "rootstep", "exec-server", "--listen", listen])
    assert "refusing to start non-loopback websocket listener" in stderr and "without auth" in stderr


def test_with_auth_a_non_loopback_listener_starts(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    argv = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "ws://0.0.0.0:0",
            "--ws-auth", "capability-token", "--ws-token-file", str(tmp_path / "token")]
    with serving(argv) as url:
        port = url.rsplit(":", 1)[1]
        assert url == f"ws://0.0.0.0:{port}"
        assert upgrade(f"ws://127.0.0.1:{port}", None) == (401, "missing websocket bearer token")
        assert upgrade(f"ws://127.0.0.1:{port}", f"Bearer {TOKEN}")[0] == 101


@pytest.mark.parametrize("source", ["file", "sha256"])
def test_capability_token(exec_server: list[str], tmp_path: Path, source: str) -> None:
    (tmp_path / "token").write_text(f"  {TOKEN}  \n")  # trimmed
    flags = (["--ws-token-file", str(tmp_path / "token")] if source == "file"
             else ["--ws-token-sha256", hashlib.sha256(TOKEN.encode()).hexdigest()])
    with serving([*exec_server, "--listen", "ws://127.0.0.1:0", "--ws-auth", "capability-token", *flags]) as url:
        assert upgrade(url, None) == (401, "missing websocket bearer token")
        assert upgrade(url, "Bearer wrong") == (401, "invalid websocket bearer token")
        assert upgrade(url, f"Basic {TOKEN}") == (401, "invalid authorization header")
        assert upgrade(url, "Bearer") == (401, "invalid authorization header")
        assert upgrade(url, f"bearer   {TOKEN}  ")[0] == 101
        assert httpx2.get(url.replace("ws://", "http://") + "/readyz").status_code == 200  # no token needed


def test_signed_bearer_token(exec_server: list[str], tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET)
    argv = [*exec_server, "--listen", "ws://127.0.0.1:0", "--ws-auth", "signed-bearer-token",
            "--ws-shared-secret-file", str(tmp_path / "secret"), "--ws-issuer", "issuer", "--ws-audience", "aud"]
    now = int(time.time())
    good = {"exp": now + 300, "iss": "issuer", "aud": ["other", "aud"]}
    with serving(argv) as url:
        assert upgrade(url, "Bearer " + jwt.encode(good, SECRET, algorithm="HS256"))[0] == 101
        assert upgrade(url, "Bearer " + jwt.encode(good, "x" * 40, algorithm="HS256")) == (401, "invalid websocket jwt")
        expired = {**good, "exp": now - 600}
        expired_token = jwt.encode(expired, SECRET, algorithm="HS256")
        assert upgrade(url, "Bearer " + expired_token) == (401, "expired websocket jwt")
        early = {**good, "nbf": now + 600}
        early_token = jwt.encode(early, SECRET, algorithm="HS256")
        assert upgrade(url, "Bearer " + early_token) == (401, "websocket jwt is not valid yet")
        wrong_issuer = {**good, "iss": "someone"}
        assert upgrade(url, "Bearer " + jwt.encode(wrong_issuer, SECRET, algorithm="HS256")) == (
            401, "websocket jwt issuer mismatch")
        wrong_audience = {**good, "aud": "other"}
        assert upgrade(url, "Bearer " + jwt.encode(wrong_audience, SECRET, algorithm="HS256")) == (
            401, "websocket jwt audience mismatch")
        no_exp = {"iss": "issuer", "aud": "aud"}
        assert upgrade(url, "Bearer " + jwt.encode(no_exp, SECRET, algorithm="HS256")) == (401, "invalid websocket jwt")


@pytest.mark.parametrize(("flags", "message"), [
    (["--ws-auth", "capability-token"],
     "`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set"),
    (["--ws-token-sha256", "ab"],
     "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"),
    (["--ws-auth", "capability-token", "--ws-token-sha256", "abc"],
     "--ws-token-sha256 must be a 64-character hex SHA-256 digest"),
    (["--ws-auth", "capability-token", "--ws-token-file", "/definitely/missing"],
     "failed to read websocket auth secret /definitely/missing: No such file or directory (os error 2)"),
    (["--ws-auth", "signed-bearer-token", "--ws-shared-secret-file", "SHORT"],
     "must be at least 32 bytes"),
])
def test_bad_auth_flags_are_refused(exec_server: list[str], tmp_path: Path, flags: list[str], message: str) -> None:
    (tmp_path / "short").write_text("too short")
    flags = [str(tmp_path / "short") if flag == "SHORT" else flag for flag in flags]
    assert message in refusal([*exec_server, "--listen", "ws://127.0.0.1:0", *flags])
