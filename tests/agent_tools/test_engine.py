"""The engine with real processes: the sandbox, the process API (local and in both executors),
and the unified-exec manager (sessions, write_stdin, kill on close)."""

from __future__ import annotations

import json
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from rootstep.agent_tools.unified_exec import ExecContext, UnifiedExecManager, parse_approval_policy
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.processes import ProcessSpec
from rootstep.environments.remote import RemoteEnvironment
from rootstep.sandbox import SandboxUnavailable, policy_from_config, policy_from_mode, probe, resolve_permissions, wrap
from rootstep.sandbox.exec_context import context_from_policy, permissions_from_context
from tests.exec_server.helpers import executor_argv

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
MARKER = "EXEC_ONLY_MARKER"


async def drain(handle: Any) -> tuple[bytes, int]:
    out = b""
    with anyio.fail_after(20):
        while (chunk := await handle.read()) is not None:
            out += chunk.data
        return out, await handle.wait()


@pytest.fixture
async def remote(which: str) -> AsyncIterator[RemoteEnvironment]:
    argv = executor_argv(which)
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:], env={MARKER: "executor-only"}) as env:
        yield env


def test_policy_from_config_and_permissions(tmp_path: Path) -> None:
    policy = policy_from_config({"sandbox_mode": "workspace-write", "sandbox_workspace_write": {
        "writable_roots": ["/opt/x"], "network_access": True, "exclude_slash_tmp": True}})
    perms = resolve_permissions(policy, str(tmp_path), {"TMPDIR": "/var/tmp"})
    assert [r.root for r in perms.writable_roots] == [str(tmp_path), "/opt/x", "/var/tmp"]
    assert perms.writable_roots[0].read_only_subpaths[0] == str(tmp_path / ".git") and perms.network
    with pytest.raises(ValueError, match="writable_roots"):
        policy_from_config({"sandbox_mode": "workspace-write", "sandbox_workspace_write": {"writable_roots": ["rel"]}})
    assert resolve_permissions(policy_from_mode("read-only"), "/", {}).read_only


def test_exec_server_sandbox_context_round_trip(tmp_path: Path) -> None:
    starts = json.loads((Path(__file__).parent / "data" / "exec_server_process_start_0169.json").read_text())
    sample = starts[0]["sandbox"]
    ours = context_from_policy(policy_from_mode("workspace-write"), "/WORKSPACE")
    assert ours == sample
    perms = permissions_from_context(sample, cwd="/WORKSPACE", env={})
    assert [r.root for r in perms.writable_roots] == ["/WORKSPACE", "/tmp"] and not perms.network


@pytest.mark.skipif(probe() is not None, reason="no sandbox on this machine")
async def test_sandbox_refuses_writes_outside_the_workspace_and_the_network(tmp_path: Path) -> None:
    env = LocalEnvironment()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    outside = Path("/var/tmp") / f"rootstep-sbx-{tmp_path.name}"
    (tmp_path / ".git").mkdir()
    script = (f"echo in > inside.txt && echo wrote-inside; touch {outside} 2>/dev/null || echo outside-refused; "
              f"touch .git/config 2>/dev/null || echo git-refused; "
              f"{sys.executable} -c "
              f"'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>/dev/null "
              "&& echo connected || echo net-refused")
    try:
        h = await env.start_process(ProcessSpec(["bash", "-c", script], str(tmp_path),
                                                sandbox=policy_from_mode("workspace-write")))
        out, code = await drain(h)
        await h.aclose()
        assert h.sandboxed and code == 0
        assert out.split() == [b"wrote-inside", b"outside-refused", b"git-refused", b"net-refused"]
        assert not outside.exists() and (tmp_path / "inside.txt").read_text() == "in\n"
        h = await env.start_process(ProcessSpec(["bash", "-c", "(echo x > f.txt) 2>/dev/null || echo ro-refused"],
                                                str(tmp_path), sandbox=policy_from_mode("read-only")))
        out, _ = await drain(h)
        await h.aclose()
        assert out.strip() == b"ro-refused" and not (tmp_path / "f.txt").exists()
        # the same command with full access reaches the listener
        h = await env.start_process(ProcessSpec(["bash", "-c", script.replace("touch .git/config", "true")],
                                                str(tmp_path), sandbox=policy_from_mode("danger-full-access")))
        out, _ = await drain(h)
        await h.aclose()
        assert b"connected" in out and outside.exists()
    finally:
        listener.close()
        outside.unlink(missing_ok=True)


def test_an_unenforceable_sandbox_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rootstep.sandbox import bwrap

    monkeypatch.setenv(bwrap.BWRAP_ENV, str(tmp_path / "no-bwrap"))
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        wrap(["true"], str(tmp_path), resolve_permissions(policy_from_mode("read-only"), str(tmp_path), {}))


async def test_local_process_pipes_tty_and_tree_kill(tmp_path: Path) -> None:
    env = LocalEnvironment()
    h = await env.start_process(ProcessSpec(["bash", "-c", "echo out; echo err >&2; exit 3"], str(tmp_path)))
    out, code = await drain(h)
    assert code == 3 and sorted(out.split()) == [b"err", b"out"]
    await h.aclose()
    h = await env.start_process(ProcessSpec(["cat"], str(tmp_path), tty=True))
    await h.write(b"hello\n")
    chunk = await h.read()
    assert chunk is not None and chunk.stream == "pty" and b"hello" in chunk.data
    await h.resize(40, 120)
    await h.aclose()
    h = await env.start_process(ProcessSpec(["bash", "-c", "sleep 300 & sleep 300 & echo ready; wait"], str(tmp_path)))
    chunk = await h.read()
    assert chunk is not None and b"ready" in chunk.data
    tree = psutil.Process(h.pid).children(recursive=True)
    assert len(tree) >= 2
    await h.terminate()
    gone, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive


async def test_remote_process_output_exit_env_and_tty(remote: RemoteEnvironment, tmp_path: Path) -> None:
    h = await remote.start_process(ProcessSpec(["bash", "-c", f"echo ${MARKER}; exit 4"], str(tmp_path)))
    out, code = await drain(h)
    assert (out, code) == (b"executor-only\n", 4)
    await h.aclose()
    h = await remote.start_process(ProcessSpec(["cat"], str(tmp_path), tty=True))
    await h.write(b"yo\n")
    chunk = await h.read()
    assert chunk is not None and b"yo" in chunk.data
    await h.aclose()


class Events:
    def __init__(self, decision: str = "accept") -> None:
        self.log: list[tuple[str, Any]] = []
        self.decision = decision

    async def item_started(self, item: dict[str, Any]) -> None:
        self.log.append(("started", item))

    async def item_completed(self, item: dict[str, Any]) -> None:
        self.log.append(("completed", item))

    async def output_delta(self, params: dict[str, Any]) -> None:
        self.log.append(("delta", params["delta"]))

    async def request_approval(self, params: dict[str, Any]) -> Any:
        self.log.append(("ask", params))
        return {"decision": self.decision}

    async def terminal_interaction(self, params: dict[str, Any]) -> None:
        self.log.append(("stdin", params["stdin"]))

    def completed(self) -> list[dict[str, Any]]:
        return [i for k, i in self.log if k == "completed"]


def context(env: Any, cwd: Path, *, sandbox: str = "workspace-write", approval: str = "on-request") -> ExecContext:
    return ExecContext(environment=env, environment_id=getattr(env, "id", "local"), cwd=str(cwd),
                       thread_id="thr", turn_id="turn", sandbox_policy=policy_from_mode(sandbox),
                       approval_policy=parse_approval_policy(approval))


def session_of(text: str) -> int:
    match = re.search(r"Process running with session ID (\d+)", text)
    assert match, text
    return int(match.group(1))


async def test_manager_runs_polls_writes_and_kills(tmp_path: Path) -> None:
    events = Events()
    async with UnifiedExecManager() as manager:
        ctx = context(LocalEnvironment(), tmp_path, sandbox="danger-full-access")
        text = await manager.exec_command(ctx, "c1", json.dumps({"cmd": "echo hi; exit 3"}), events)
        assert "Process exited with code 3" in text and text.endswith("Output:\nhi\n")
        item = events.completed()[-1]
        assert (item["status"], item["exitCode"], item["aggregatedOutput"], item["source"]) == (
            "failed", 3, "hi\n", "unifiedExecStartup")
        text = await manager.exec_command(
            ctx, "c2", json.dumps({"cmd": "sleep 1; echo done", "yield_time_ms": 250}), events)
        sid = session_of(text)
        text = await manager.write_stdin(ctx, "c3", json.dumps({"session_id": sid}), events)
        assert "Process exited with code 0" in text and text.endswith("done\n")
        assert await manager.write_stdin(ctx, "c4", json.dumps({"session_id": sid}), events) == (
            f"write_stdin failed: Unknown process id {sid}")
        text = await manager.exec_command(
            ctx, "c5", json.dumps({"cmd": "cat", "tty": True, "yield_time_ms": 300}), events)
        sid = session_of(text)
        text = await manager.write_stdin(ctx, "c6", json.dumps({"session_id": sid, "chars": "ping\n"}), events)
        assert "ping" in text and f"session ID {sid}" in text
        text = await manager.exec_command(
            ctx, "c7", json.dumps({"cmd": "sleep 300 & sleep 300; wait", "yield_time_ms": 250}), events)
        session_of(text)
        pids = {p.pid for p in psutil.Process().children(recursive=True) if "sleep" in " ".join(p.cmdline())}
        assert len(pids) >= 2
    # SIGKILL went to the whole group; a child may take a moment to finish dying.
    _alive, running = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)], timeout=5)
    assert not [p for p in running if p.status() != psutil.STATUS_ZOMBIE]


async def test_manager_in_executor_sees_executor_env(remote: RemoteEnvironment, tmp_path: Path) -> None:
    events = Events()
    async with UnifiedExecManager() as manager:
        ctx = context(remote, tmp_path, sandbox="danger-full-access", approval="never")
        text = await manager.exec_command(ctx, "c1", json.dumps({"cmd": f"echo ${MARKER}; echo $CODEX_CI"}), events)
        assert text.endswith("Output:\nexecutor-only\n1\n")
        text = await manager.exec_command(
            ctx, "c2", json.dumps({"cmd": "sleep 1; echo late", "yield_time_ms": 250}), events)
        text = await manager.write_stdin(ctx, "c3", json.dumps({"session_id": session_of(text)}), events)
        assert text.endswith("late\n")


@pytest.mark.skipif(probe() is not None, reason="no sandbox on this machine")
async def test_manager_escalation_asks_and_decline_is_reported(tmp_path: Path) -> None:
    target = Path("/var/tmp") / f"rootstep-esc-{tmp_path.name}"
    async with UnifiedExecManager() as manager:
        ctx = context(LocalEnvironment(), tmp_path)
        events = Events(decision="decline")
        args = {"cmd": f"touch {target}", "sandbox_permissions": "require_escalated", "justification": "May I?"}
        text = await manager.exec_command(ctx, "c1", json.dumps(args), events)
        assert text == 'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }'
        assert events.completed()[-1]["status"] == "declined" and not target.exists()
        events = Events(decision="accept")
        text = await manager.exec_command(ctx, "c2", json.dumps(args), events)
        assert "Process exited with code 0" in text and target.exists()
        ask = next(p for k, p in events.log if k == "ask")
        assert ask["reason"] == "May I?" and ask["availableDecisions"][0] == "accept"
        target.unlink()
        # without escalation the sandbox refuses the same write
        text = await manager.exec_command(ctx, "c3", json.dumps({"cmd": f"touch {target}"}), Events())
        assert "Read-only file system" in text and not target.exists()
