"""Beyond codex 0.169 (issue 16, item 15): conversations are private, and a buffered
``http/request`` body is bounded.

* A home, ``sessions/`` (and ``archived_sessions/``) folder rootstep creates is 0700 and a
  rollout file 0600, whatever the umask allows.
* The exec-server held a buffered ``http/request`` body whole, without limit: an endless
  upstream body filled its memory. It is capped (``streamResponse`` is for big bodies).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.exec_server.helpers import raw_exec
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.mock_model import MockModel
from tests.security.conftest import CAPPED_EXEC_SERVER, capped_rootstep


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_home_created_for_the_config_is_private(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    done = subprocess.run([sys.executable, "-m", "rootstep", "mcp", "add", "echo", "--", "echo-mcp"],
                          env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "new") == 0o700 and mode(home) == 0o700
    assert mode(home / "config.toml") == 0o600


def test_sessions_and_rollouts_are_private(codex_home: Path, model: MockModel) -> None:
    with AppServerProcess(codex_home, command=capped_rootstep()) as app:
        app.initialize()
        thread_id = app.call("thread/start", {})["thread"]["id"]
        assert app.run_turn(thread_id, "a private conversation")["status"] == "completed"
        [rollout] = (codex_home / "sessions").rglob("rollout-*.jsonl")
        assert mode(rollout) == 0o600
        folder = rollout.parent
        while folder != codex_home:
            assert mode(folder) == 0o700, folder
            folder = folder.parent
        app.call("thread/archive", {"threadId": thread_id})
        [archived] = (codex_home / "archived_sessions").rglob("rollout-*.jsonl")
        assert mode(archived) == 0o600
        folder = archived.parent
        while folder != codex_home:
            assert mode(folder) == 0o700, folder
            folder = folder.parent
        app.assert_schema_clean()


@contextmanager
def endless_http() -> Iterator[str]:
    """``GET /`` answers 200 with a chunked body that never ends."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * (1 << 20)
            try:
                while True:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_a_buffered_http_body_is_capped() -> None:
    with endless_http() as url:
        async with raw_exec(CAPPED_EXEC_SERVER) as ex:
            await ex.handshake()
            with anyio.fail_after(60):
                r = await ex.call(1, "http/request", {"method": "GET", "url": url, "headers": [], "requestId": "r1"})
            assert r["error"] == {
                "code": -32603,
                "message": "http/request response body exceeds 33554432 bytes; use streamResponse for larger bodies",
            }
            assert (await ex.call(2, "environment/status"))["result"] == {"status": "ready"}
