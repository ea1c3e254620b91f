"""``rootstep app-server --listen ws://127.0.0.1:0 | unix://PATH | off``: a real server process,
real websocket clients (``websockets``' sync client), the mock model; every message a client
receives is validated against the 0.169 schemas, and no child process may outlive SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect, unix_connect

from tests.conftest import descendants
from tests.fixtures.app_server import AppServerProcess, checked_app_server, text
from tests.fixtures.mcp_helpers import ECHO_SERVER, alive, read_pids
from tests.fixtures.mock_model import MockModel, assistant_text, held_text, write_config

pytestmark = pytest.mark.timeout(120)
ELICIT = "mcpServer/elicitation/request"


class ListeningServer:
    """``rootstep app-server --listen URL`` as a subprocess; stderr collected line by line."""

    def __init__(self, codex_home: Path, listen: str, *, env: dict[str, str] | None = None,
                 argv: list[str] | None = None) -> None:
        self.codex_home = codex_home
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "rootstep", "app-server", "--listen", listen],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "CODEX_HOME": str(codex_home), "RUST_LOG": "warn", **(env or {})},
            cwd=codex_home,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_line(self, prefix: str, timeout: float = 60.0) -> str:
        """The first stderr line starting (after indentation or a log prefix) with ``prefix``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if line.strip().startswith(prefix) or f": {prefix}" in line:
                        return line.strip()
                if "<eof>" in self.lines or time.monotonic() > deadline:
                    raise AssertionError(f"no {prefix!r} line on stderr:\n" + "\n".join(self.lines))
                self._cond.wait(0.5)

    def url(self) -> str:
        return self.wait_line("listening on:").split("listening on:", 1)[1].strip()

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed and not self._reader.is_alive():
                pipe.close()


class WsClient(AppServerProcess):
    """The stdio test client's API (call, wait_notification, run_turn, schema checks) over one
    websocket: each JSON-RPC message is one text message."""

    def __init__(self, codex_home: Path, ws: ClientConnection) -> None:
        super().__init__(codex_home)
        self.ws = ws
        self._readers = [threading.Thread(target=self._read_ws, daemon=True)]
        self._readers[0].start()

    def _read_ws(self) -> None:
        try:
            for frame in self.ws:
                self.received(json.loads(frame))
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def send_raw(self, line: str | bytes) -> None:
        self.ws.send(line.decode() if isinstance(line, bytes) else line)

    def wait_closed(self) -> None:
        self._readers[0].join(timeout=30)
        assert not self._readers[0].is_alive(), "the server never closed the websocket"

    def close(self, timeout: float = 15.0) -> int | None:
        self.ws.close()
        self._readers[0].join(timeout=timeout)
        return 0



@pytest.fixture
def home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model)
    return home


@pytest.fixture
def no_leaks() -> Iterator[None]:
    before = descendants()
    yield
    leaked = descendants() - before
    assert not leaked, f"leaked child processes: {leaked}"


def start(home: Path, listen: str, **kw: Any) -> ListeningServer:
    home.mkdir(parents=True, exist_ok=True)
    return ListeningServer(home, listen, **kw)


def two_clients_run_turns(home: Path, model: MockModel, open_ws: Any) -> tuple[WsClient, WsClient]:
    """Two clients initialize on one server, each starts a thread and runs a turn; the threads
    are the server's, so each client sees both as loaded."""
    first, second = WsClient(home, open_ws()), WsClient(home, open_ws())
    for client, name in ((first, "client-one"), (second, "client-two")):
        result = client.initialize(name=name)
        assert result["codexHome"] == str(home)
    threads = []
    for client, reply in ((first, "Hello one"), (second, "Hello two")):
        model.queue(assistant_text(reply, deltas=[reply]))
        thread = client.call("thread/start", {"model": "mock-model"})["thread"]
        turn = client.run_turn(thread["id"], f"say {reply}")
        assert turn["status"] == "completed"
        said = [m["params"]["delta"] for m in client.notifications("item/agentMessage/delta")
                if m["params"]["threadId"] == thread["id"]]
        assert "".join(said) == reply
        threads.append(thread["id"])
    for client in (first, second):
        assert sorted(client.call("thread/loaded/list", {})["data"]) == sorted(threads)
        # one handshake per connection: the second initialize on the same socket is refused
        assert client.call_error("initialize", {"clientInfo": {"name": "again", "version": "1"}}).message \
            == "Already initialized"
    return first, second


def test_websocket_two_clients_share_threads_and_sigterm_reaps(home: Path, model: MockModel, no_leaks: None) -> None:
    server = start(home, "ws://127.0.0.1:0")
    try:
        url = server.url()
        assert url.startswith("ws://127.0.0.1:") and not url.endswith(":0")
        http_base = url.replace("ws://", "http://")
        assert server.wait_line("readyz:") == f"readyz: {http_base}/readyz"
        with urllib.request.urlopen(f"{http_base}/readyz") as ready:
            assert ready.status == 200
        # a browser page (any request with an Origin header) is refused before the upgrade
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin="http://evil.example", legacy=True)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        with pytest.raises(urllib.error.HTTPError) as refused_http:
            urllib.request.urlopen(urllib.request.Request(f"{http_base}/readyz", headers={"Origin": "http://x"}))
        assert refused_http.value.code == 403

        first, second = two_clients_run_turns(home, model, lambda: connect(url, legacy=True))
        # a client leaving does not stop the server
        first.close()
        assert second.call("model/list", {})["data"]
        third = WsClient(home, connect(url, legacy=True))
        third.initialize(name="client-three")
        assert len(third.call("thread/loaded/list", {})["data"]) == 2

        assert server.terminate() == 0
        for client in (second, third):
            client.wait_closed()
            client.assert_schema_clean()
    finally:
        server.kill()


def test_unix_socket_two_clients_and_cleanup(home: Path, model: MockModel, tmp_path: Path, no_leaks: None) -> None:
    sock = tmp_path / "run" / "sock"
    server = start(home, f"unix://{sock}")
    try:
        assert server.url() == f"unix://{sock}"
        assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600

        # a second server on a live socket refuses to start and leaves the first one serving
        rival = subprocess.run([sys.executable, "-m", "rootstep", "app-server", "--listen", f"unix://{sock}"],
                               env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, text=True,
                               timeout=60)
        assert rival.returncode == 1
        assert f"app-server control socket is already in use at {sock}" in rival.stderr

        first, second = two_clients_run_turns(home, model, lambda: unix_connect(str(sock), legacy=True))
        assert server.terminate() == 0
        for client in (first, second):
            client.wait_closed()
            client.assert_schema_clean()
        assert not sock.exists()
    finally:
        server.kill()


def test_stale_unix_socket_is_replaced(home: Path, model: MockModel, tmp_path: Path, no_leaks: None) -> None:
    import socket

    sock = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))
    dead.close()  # the file stays, nobody listens: what a crashed server leaves behind
    server = start(home, f"unix://{sock}")
    try:
        assert server.url() == f"unix://{sock}"
        client = WsClient(home, unix_connect(str(sock), legacy=True))
        client.initialize()
        assert client.call("model/list", {})["data"]
        assert server.terminate() == 0
        client.wait_closed()
        client.assert_schema_clean()
    finally:
        server.kill()


def test_malformed_messages_get_the_stdio_answers(home: Path, no_leaks: None) -> None:
    bad = ["{not json", "[]", '{"id": 5, "method": "no/such"}', '{"id": 6, "method": "thread/start", "params": 7}']
    with checked_app_server(home) as stdio:
        expected = []
        for line in bad:
            stdio.send_raw(line)
            expected.append(stdio.wait_for(lambda m: "error" in m, what=f"answer to {line}"))
    server = start(home, "ws://127.0.0.1:0")
    try:
        client = WsClient(home, connect(server.url(), legacy=True))
        client.initialize()
        got = []
        for line in bad:
            client.send_raw(line)
            got.append(client.wait_for(lambda m: "error" in m, what=f"answer to {line}"))
        assert got == expected
        assert [m["error"]["code"] for m in got] == [-32700, -32600, -32600, -32600]
        # a binary message is dropped (like codex) and the connection keeps serving
        client.ws.send(b'{"id": 9, "method": "model/list", "params": {}}')
        assert client.call("model/list", {})["data"]
        assert not [m for m in client.messages if m.get("id") == 9]
        assert server.terminate() == 0
        client.wait_closed()
        client.assert_schema_clean()
    finally:
        server.kill()


def test_requests_past_the_capacity_are_answered_overloaded(tmp_path: Path, model: MockModel, no_leaks: None) -> None:
    """With capacity 1, a request waiting on the client (an MCP tool that elicits) fills the
    connection: the next request gets -32001 at once, the elicitation still round-trips, and
    once the call is answered requests are served again."""
    home = tmp_path / "home"
    pids = tmp_path / "echo.pids"
    env_toml = f'MCP_TEST_PID_FILE = {json.dumps(str(pids))}, MCP_TEST_FOLLOWUP_TOOLS = "1"'
    write_config(home, model, extra=(f"\n[mcp_servers.echo]\ncommand = {json.dumps(sys.executable)}\n"
                                     f"args = [{json.dumps(ECHO_SERVER)}]\nenv = {{ {env_toml} }}\n"))
    server = start(home, "ws://127.0.0.1:0", env={"ROOTSTEP_MAX_IN_FLIGHT_REQUESTS": "1"})
    try:
        client = WsClient(home, connect(server.url(), legacy=True))
        client.initialize()
        thread = client.call("thread/start", {"model": "mock-model"})["thread"]
        call = client.request("mcpServer/tool/call", {"threadId": thread["id"], "server": "echo", "tool": "elicit",
                                                      "arguments": {"mode": "form"}})
        asked = client.wait_for(lambda m: m.get("method") == ELICIT and "id" in m, what=ELICIT, timeout=60)

        refused = client.call_error("model/list", {})
        assert (refused.code, refused.message) == (-32001, "Server overloaded; retry later.")
        # answers to the server's own requests are never refused
        client.send({"id": asked["id"], "result": {"action": "accept", "content": {"color": "red"}}})
        result = client.wait_response(call)["result"]
        assert result["content"] == [{"type": "text", "text": 'accept:{"color": "red"}'}]
        assert client.call("model/list", {})["data"]

        [echo_pid] = read_pids(pids)
        assert alive(echo_pid)
        assert server.terminate() == 0
        assert not alive(echo_pid), "the MCP server outlived the app-server"
        client.wait_closed()
        client.assert_schema_clean()
    finally:
        server.kill()


def test_sigterm_lets_the_running_turn_finish_and_a_second_one_forces(home: Path, model: MockModel,
                                                                    no_leaks: None) -> None:
    """Like codex: the first SIGTERM waits (still serving) for running turns, a second stops now."""
    drain = "shutdown requested: waiting for 1 running turn(s) to finish"
    for forced in (False, True):
        held = held_text("finished after the signal", deltas=["finished", " after the signal"])
        model.queue(held)
        server = start(home, "ws://127.0.0.1:0")
        try:
            client = WsClient(home, connect(server.url(), legacy=True))
            client.initialize()
            thread = client.call("thread/start", {"model": "mock-model"})["thread"]
            turn = client.call("turn/start", {"threadId": thread["id"], "input": [text("go")]})["turn"]
            client.wait_notification("item/agentMessage/delta")
            assert held.reached_hold.wait(30)

            server.proc.send_signal(signal.SIGTERM)
            server.wait_line(drain)
            assert server.proc.poll() is None
            assert client.call("model/list", {})["data"], "requests are still served while draining"
            if forced:
                server.proc.send_signal(signal.SIGTERM)
            else:
                held.release()
                done = client.wait_notification("turn/completed",
                                                lambda m, turn_id=turn["id"]: m["params"]["turn"]["id"] == turn_id)
                assert done["params"]["turn"]["status"] == "completed"
            assert server.proc.wait(timeout=30) == 0
            client.wait_closed()
            client.assert_schema_clean()
            if forced:
                assert not client.notifications("turn/completed"), "a forced stop does not wait for the turn"
                held.release()
        finally:
            server.kill()


def test_off_serves_nothing_until_sigterm(home: Path, no_leaks: None) -> None:
    server = start(home, "off")
    try:
        # nothing to connect to; the process says so and stops cleanly on SIGTERM
        assert server.url() == "off"
        assert server.terminate() == 0
        assert not (home / "app-server-control").exists()
    finally:
        server.kill()


@pytest.mark.parametrize(("listen", "message"), [
    ("tcp://127.0.0.1:1", "unsupported --listen URL `tcp://127.0.0.1:1`; expected `stdio://`, `unix://`, "
                          "`unix://PATH`, `ws://IP:PORT`, or `off`"),
    ("ws://localhost:0", "invalid websocket --listen URL `ws://localhost:0`; expected `ws://IP:PORT`"),
    ("ws://0.0.0.0:0", "refusing to start non-loopback websocket listener 0.0.0.0:0 without auth"),
])
def test_bad_listen_urls_are_refused(home: Path, listen: str, message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "rootstep", "app-server", "--listen", listen],
                          env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
