"""``rootstep demo``: a short conversation through the real app-server, printed as a transcript.

Offline by default: a scripted Responses endpoint on 127.0.0.1 (stdlib ``http.server``, so
the demo needs nothing beyond rootstep's own dependencies) stands in for the model. With
``OPENAI_API_KEY`` set and ``--model``, the same conversation goes to the real API.

What it shows: the app-server is started as a subprocess and spoken to over stdio exactly as
a client would (initialize, thread/start, turn/start with streamed deltas, token usage), then
restarted, and the thread is resumed from its rollout file with its history intact.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# --- the scripted endpoint --------------------------------------------------------------------

# A step is either a message (streamed word by word) or a tool call ``(namespace, name, args)``.
ADD_NOTE = ("mcp__demo_notes", "add_note", {"text": "rootstep demo was here"})
SCRIPT: list[Any] = [
    ADD_NOTE,
    "Hi! I'm rootstep, a Codex-compatible agent server. This thread selected the demo plugin, "
    "which lives in an executor environment: I just called its add_note tool, and it ran there.",
    "You asked me what I am; I said I'm rootstep. (I remember because the thread's history "
    "was replayed from its rollout file after the restart.)",
]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _scripted_events(index: int, text: Any) -> Iterator[dict[str, Any]]:
    rid, mid = f"resp_demo_{index}", f"msg_demo_{index}"
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": "demo-model",
            "output": [], "parallel_tool_calls": False, "tool_choice": "auto", "tools": []}
    yield {"type": "response.created", "response": {**base, "status": "in_progress"}}
    if isinstance(text, tuple):  # a tool call of the selected plugin
        namespace, name, args = text
        yield {"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "function_call", "id": f"fc_demo_{index}", "call_id": f"call_demo_{index}",
                        "namespace": namespace, "name": name, "arguments": json.dumps(args), "status": "completed"}}
        usage = {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 45}
        yield {"type": "response.completed", "response": {**base, "status": "completed", "usage": usage}}
        return
    yield {"type": "response.output_item.added", "output_index": 0,
           "item": {"type": "message", "role": "assistant", "id": mid, "status": "in_progress", "content": []}}
    words = text.split(" ")
    for i, word in enumerate(words):
        delta = word if i == 0 else " " + word
        yield {"type": "response.output_text.delta", "item_id": mid, "output_index": 0, "content_index": 0,
               "delta": delta, "logprobs": []}
    yield {"type": "response.output_item.done", "output_index": 0,
           "item": {"type": "message", "role": "assistant", "id": mid, "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}}
    usage = {"input_tokens": 40 + 30 * index, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": len(words), "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 40 + 30 * index + len(words)}
    yield {"type": "response.completed", "response": {**base, "status": "completed", "usage": usage}}


class ScriptedEndpoint:
    """``POST /v1/responses`` answers with the next scripted message, streamed word by word."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.count = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the transcript clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                index = min(endpoint.count, len(endpoint.script) - 1)
                endpoint.count += 1
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for event in _scripted_events(index, endpoint.script[index]):
                    self.wfile.write(_sse(event))
                    self.wfile.flush()
                    time.sleep(0.02)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a tiny stdio client ----------------------------------------------------------------------


class StdioClient:
    """Just enough JSON-RPC to drive the app-server and watch its notifications."""

    def __init__(self, home: Path) -> None:
        # INFO logs on stderr tell the demo when the plugin's executor is connected.
        env = {**os.environ, "CODEX_HOME": str(home), "ROOTSTEP_LOG": "INFO"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=home,
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.inbox.put(json.loads(line))
        self.inbox.put({"__eof__": True})

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def call(self, method: str, params: Any, on_notification: Callable[[dict[str, Any]], None] | None = None) -> Any:
        req_id = self._next
        self._next += 1
        self.send({"id": req_id, "method": method, "params": params})
        while True:
            message = self.inbox.get(timeout=60)
            if message.get("__eof__"):
                raise RuntimeError("app-server exited:\n" + "".join(self.stderr[-20:]))
            if message.get("id") == req_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']['message']}")
                return message["result"]
            if on_notification is not None:
                on_notification(message)

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], on_notification: Callable[[dict[str, Any]], None]
    ) -> None:
        while True:
            message = self.inbox.get(timeout=120)
            if message.get("__eof__"):
                raise RuntimeError("app-server exited:\n" + "".join(self.stderr[-20:]))
            on_notification(message)
            if predicate(message):
                return

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# --- the transcript ---------------------------------------------------------------------------


class Transcript:
    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        self.streaming = False

    def rule(self, title: str) -> None:
        self.end_stream()
        self.console.rule(f"[bold]{title}")

    def note(self, text: str) -> None:
        self.end_stream()
        self.console.print(f"[dim]{text}[/dim]")

    def user(self, text: str) -> None:
        self.end_stream()
        self.console.print(f"[bold cyan]you[/bold cyan]   {text}")

    def delta(self, text: str) -> None:
        if not self.streaming:
            self.console.print("[bold green]agent[/bold green] ", end="")
            self.streaming = True
        self.console.print(text, end="", markup=False, soft_wrap=True)

    def end_stream(self) -> None:
        if self.streaming:
            self.console.print()
            self.streaming = False

    def on_notification(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params") or {}
        if method == "item/agentMessage/delta":
            self.delta(params["delta"])
        elif method == "item/completed" and params["item"]["type"] == "agentMessage" and not self.streaming:
            self.delta(params["item"]["text"])
        elif method == "item/completed" and params["item"]["type"] == "mcpToolCall":
            item = params["item"]
            result = item.get("result") or {}
            texts = [c.get("text") for c in result.get("content") or [] if c.get("type") == "text"]
            result = (
                result.get("structuredContent")
                or " ".join(" ".join(t.split()) for t in texts if t)
                or item.get("error")
            )
            self.note(f"      tool {item['server']}/{item['tool']} (plugin {item.get('pluginId')}) → {result}")
        elif method == "thread/tokenUsage/updated":
            total = params["tokenUsage"]["total"]
            self.note(f"      tokens so far: {total['inputTokens']} in / {total['outputTokens']} out")
        elif method == "turn/completed":
            turn = params["turn"]
            self.end_stream()
            status = turn["status"]
            colour = "green" if status == "completed" else "red"
            extra = f": {turn['error']['message']}" if turn.get("error") else ""
            self.console.print(f"[{colour}]      turn {status}{extra}[/{colour}]")


def _turn(client: StdioClient, out: Transcript, thread_id: str, prompt: str, model: str | None) -> None:
    out.user(prompt)
    params: dict[str, Any] = {"threadId": thread_id, "input": [{"type": "text", "text": prompt}]}
    if model:
        params["model"] = model
    turn = client.call("turn/start", params, out.on_notification)["turn"]
    client.until(
        lambda m: m.get("method") == "turn/completed" and m["params"]["turn"]["id"] == turn["id"], out.on_notification
    )


def _write_config(home: Path, base_url: str | None, model: str | None) -> None:
    if base_url is not None:
        text = (
            'model = "demo-model"\napproval_policy = "never"\nsandbox_mode = "read-only"\n'
            'model_provider = "demo"\n\n[model_providers.demo]\nname = "rootstep demo (scripted, offline)"\n'
            f'base_url = "{base_url}"\nwire_api = "responses"\nrequest_max_retries = 0\n'
        )
    else:
        text = f'model = "{model}"\nmodel_provider = "openai"\napproval_policy = "never"\nsandbox_mode = "read-only"\n'
    (home / "config.toml").write_text(text)


DEMO_PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "demo-plugin"
DEMO_EXECUTOR = "demo-executor"


def _write_environments(home: Path) -> None:
    """An executor environment (``rootstep exec-server --listen stdio``) that holds the plugin;
    ``DEMO_EXECUTOR_NAME`` exists only there."""
    env = {"DEMO_EXECUTOR_NAME": "demo-executor (rootstep exec-server)",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    lines = ["include_local = true", "", "[[environments]]", f"id = {json.dumps(DEMO_EXECUTOR)}",
             f"program = {json.dumps(sys.executable)}",
             f"args = {json.dumps(['-m', 'rootstep', 'exec-server', '--listen', 'stdio'])}", "[environments.env]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in env.items()]
    (home / "environments.toml").write_text("\n".join(lines) + "\n")


def _wait_connected(client: StdioClient, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(f"environment `{DEMO_EXECUTOR}` connected" in line for line in client.stderr):
            return True
        time.sleep(0.05)
    return False


def run(model: str | None = None, overrides: list[str] | None = None) -> int:
    live = bool(model and os.environ.get("OPENAI_API_KEY"))
    out = Transcript()
    endpoint = None if live else ScriptedEndpoint(SCRIPT)
    with tempfile.TemporaryDirectory(prefix="rootstep-demo-") as tmp:
        home = Path(tmp)
        _write_config(home, None if endpoint is None else endpoint.base_url, model)
        with_plugin = DEMO_PLUGIN.is_dir()
        if with_plugin:
            _write_environments(home)
        try:
            out.rule("rootstep demo")
            if live:
                out.note(f"talking to the OpenAI Responses API with model {model}")
            else:
                out.note("offline: a scripted Responses endpoint on " + endpoint.base_url)  # type: ignore[union-attr]
                if model:
                    out.note("(set OPENAI_API_KEY to use --model against the real API)")
            out.note(f"CODEX_HOME={home}")

            client = StdioClient(home)
            t0 = time.perf_counter()
            client_info = {"name": "rootstep-demo", "title": None, "version": "0.1.0"}
            info = client.call("initialize", {"clientInfo": client_info, "capabilities": {"experimentalApi": True}})
            client.send({"method": "initialized"})
            out.note(f"initialize answered in {1000 * (time.perf_counter() - t0):.0f} ms — {info['userAgent']}")
            params: dict[str, Any] = {}
            if with_plugin:
                params["selectedCapabilityRoots"] = [{"id": "demo-plugin@1", "location": {
                    "type": "environment", "environmentId": DEMO_EXECUTOR, "path": str(DEMO_PLUGIN)}}]
            started = client.call("thread/start", params, out.on_notification)
            thread_id = started["thread"]["id"]
            out.note(f"thread {thread_id} (model {started['model']}, provider {started['modelProvider']})")
            if with_plugin:
                out.note(f"selected root demo-plugin@1 in environment `{DEMO_EXECUTOR}`: {DEMO_PLUGIN}")
                if _wait_connected(client):
                    out.note(f"executor `{DEMO_EXECUTOR}` is up (rootstep exec-server --listen stdio)")
            _turn(client, out, thread_id, "Hi! What are you?", None)
            code = client.close()
            out.note(f"app-server exited with {code} after stdin closed")

            out.rule("restart and resume")
            rollouts = list((home / "sessions").rglob("rollout-*.jsonl"))
            if rollouts:
                out.note(f"rollout: {rollouts[0].relative_to(home)}")
            client = StdioClient(home)
            client.call("initialize", {"clientInfo": {"name": "rootstep-demo", "title": None, "version": "0.1.0"}})
            client.send({"method": "initialized"})
            resumed = client.call("thread/resume", {"threadId": thread_id}, out.on_notification)
            out.note(f"resumed {thread_id} with {len(resumed['thread']['turns'])} earlier turn(s)")
            _turn(client, out, thread_id, "What did I just ask you?", None)
            listed = client.call("thread/list", {}, out.on_notification)
            out.note(f"thread/list: {len(listed['data'])} thread(s); preview: {listed['data'][0]['preview']!r}")
            client.close()
            out.rule("done")
        except Exception as exc:  # noqa: BLE001 - the demo reports, it does not traceback
            out.end_stream()
            out.console.print(f"[red]demo failed: {exc}[/red]")
            return 1
        finally:
            if endpoint is not None:
                endpoint.close()
    return 0
