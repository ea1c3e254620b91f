"""Shared by the exec-server and environment tests: executors to talk to, a raw line driver,
small loopback HTTP servers (origin and forward proxy), and a fake plugin tree."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import psutil
from anyio.abc import Process

from rootstep.jsonrpc.framing import LineReader
from tests.conftest import reference_codex_path

ROOTSTEP_ARGV = [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"]
ECHO_SERVER = str(Path(__file__).resolve().parent.parent / "fixtures" / "mcp_echo_server.py")
MARKER = "ROOTSTEP_EXECUTOR_MARKER"


def executor_argv(which: str) -> list[str]:
    """The command of an exec-server speaking stdio: ours, or the reference binary."""
    if which == "rootstep":
        return list(ROOTSTEP_ARGV)
    path = reference_codex_path()
    assert path is not None
    return [str(path), "exec-server", "--listen", "stdio"]


def executor_pids(root_pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(root_pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


async def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    """Poll until these processes are gone (a correctness wait, not a timing assertion)."""
    with anyio.move_on_after(timeout):
        while alive(pids):
            await anyio.sleep(0.02)
    return alive(pids)


class RawExec:
    """Speaks newline JSON to an exec-server child, byte for byte, for wire-level tests."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        self._lines = LineReader(process.stdout)
        self.notifications: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
        assert self.process.stdin is not None
        await self.process.stdin.send(data)

    async def recv(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """Next message, or None at EOF."""
        with anyio.fail_after(timeout):
            try:
                line = await self._lines.__anext__()
            except StopAsyncIteration:
                return None
        return json.loads(line)

    async def response(self, req_id: Any) -> dict[str, Any]:
        while True:
            msg = await self.recv()
            assert msg is not None, f"connection closed before the response to {req_id}"
            if "method" in msg and "id" not in msg:
                self.notifications.append(msg)
                continue
            assert msg.get("id") == req_id, msg
            return msg

    async def call(self, req_id: Any, method: str, params: Any = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        await self.send(msg)
        return await self.response(req_id)

    async def handshake(self) -> dict[str, Any]:
        result = await self.call(0, "initialize", {"clientName": "raw-test", "resumeSessionId": None})
        await self.send({"method": "initialized", "params": {}})
        return result

    async def wait_exit(self, timeout: float = 20.0) -> int | None:
        with anyio.fail_after(timeout):
            return await self.process.wait()


class _RawCM:
    def __init__(self, argv: list[str], env: dict[str, str] | None) -> None:
        self.argv = argv
        self.env = env

    async def __aenter__(self) -> RawExec:
        self.process = await anyio.open_process(self.argv, env={**os.environ, **(self.env or {})},
                                                start_new_session=True)
        return RawExec(self.process)

    async def __aexit__(self, *exc: Any) -> None:
        if self.process.returncode is None:
            self.process.kill()
        with anyio.CancelScope(shield=True):
            await self.process.wait()
            await self.process.aclose()


def raw_exec(argv: list[str], env: dict[str, str] | None = None) -> _RawCM:
    return _RawCM(argv, env)


# --- loopback HTTP --------------------------------------------------------------------------


@dataclass
class HttpServer:
    url: str
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def http_server(name: str = "origin") -> Iterator[HttpServer]:
    """``GET /hello`` → ``hello``; ``GET /stream`` → 3 chunks; ``POST /echo`` → the body;
    ``GET /redirect`` → 302 to /hello; anything else → 200 ``<name> saw <path>`` (so a
    forward proxy answers for any absolute URL)."""
    record = HttpServer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Multi", "one")
            self.send_header("X-Multi", "two")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            record.requests.append(("GET", self.path, dict(self.headers), b""))
            if self.path == "/hello":
                self._reply(200, b"hello", {"Content-Type": "text/plain"})
            elif self.path == "/redirect":
                self._reply(302, b"", {"Location": "/hello"})
            elif self.path == "/stream":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (b"one,", b"two,", b"three"):
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._reply(200, f"{name} saw {self.path}".encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            record.requests.append(("POST", self.path, dict(self.headers), body))
            self._reply(201, body, {"Content-Type": self.headers.get("Content-Type", "application/octet-stream")})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


# --- a plugin tree --------------------------------------------------------------------------


def make_plugin(root: Path, *, mcp_servers: Any = None) -> Path:
    """The fake plugin of spec §7: manifest, .mcp.json, .app.json, a skill with metadata."""
    (root / ".codex-plugin").mkdir(parents=True)
    manifest: dict[str, Any] = {"name": "executor-demo", "apps": "./.app.json",
                                "interface": {"displayName": "Executor Demo"}}
    if mcp_servers is not None:
        manifest["mcpServers"] = mcp_servers
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"demo": {"command": "python3", "args": ["server.py"]}}}))
    (root / ".app.json").write_text(json.dumps({"apps": {"demo-app": {"id": "connector_demo"}}}))
    skill = root / "skills" / "deploy"
    (skill / "agents").mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: deploy\ndescription: Deploy things\n---\nDeploy.\n")
    (skill / "agents" / "openai.yaml").write_text("interface:\n  display_name: Deploy\n")
    (root / "bin").mkdir()
    (root / "bin" / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    return root
