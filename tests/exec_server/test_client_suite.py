"""One client suite, run against `rootstep exec-server` and `codex exec-server` (0.169).

Every assertion holds for both: this is what "wire compatible" means here. The client is
ours (``RemoteEnvironment`` over ``open_stdio_link``), so the suite also proves our client
against a server we did not write.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psutil
import pytest

from rootstep.environments import ProcessEvent, RemoteEnvironment
from rootstep.environments.exec_client import ExecServerClient
from rootstep.jsonrpc.errors import ConnectionClosed, JsonRpcError
from rootstep.protocol import exec_server as p
from tests.exec_server.helpers import MARKER, alive, executor_argv, http_server, make_plugin, wait_gone

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
async def env(which: str) -> AsyncIterator[RemoteEnvironment]:
    argv = executor_argv(which)
    child_env = {MARKER: "executor-only", "SECRET_TOKEN_X": "s"}
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:], env=child_env) as environment:
        yield environment


def start_params(process_id: str, argv: list[str], cwd: str, **kw: object) -> p.ProcessStartParams:
    values: dict[str, object] = dict(process_id=process_id, argv=argv, cwd=p.path_to_uri(cwd), env={}, tty=False,
                                     pipe_stdin=False)
    values.update(kw)
    return p.ProcessStartParams(**values)  # type: ignore[arg-type]


async def collect(session_events: object, *, until: str = "closed") -> list[ProcessEvent]:
    out: list[ProcessEvent] = []
    with anyio.fail_after(20):
        async for event in session_events:  # type: ignore[attr-defined]
            out.append(event)
            if event.kind == until:
                break
    return out


def stdout_of(events: list[ProcessEvent]) -> bytes:
    return b"".join(e.data for e in events if e.kind == "output" and e.stream == "stdout")


async def test_handshake_gives_a_session_and_environment_info(env: RemoteEnvironment) -> None:
    client = await env.client()
    assert client.session_id and len(client.session_id) == 36
    info = await env.environment_info()
    assert info["shell"]["name"] and os.path.isabs(info["shell"]["path"])
    assert info["cwd"].startswith("file:///")
    assert await env.probe() is True


async def test_echo_round_trip_with_ordered_seq_and_terminate(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    core = p.ExecEnvPolicy(inherit="core", ignore_default_excludes=True, exclude=[], set={}, include_only=[])
    session = await client.start_process(start_params("cat-1", ["cat"], str(tmp_path), pipe_stdin=True,
                                                      env_policy=core))
    assert await session.write(b"hello executor\n") == "accepted"
    got = b""
    with anyio.fail_after(20):
        async for event in session.events:
            assert event.kind == "output"
            got += event.data
            if got.endswith(b"\n"):
                break
    assert got == b"hello executor\n"
    assert await session.terminate() is True
    rest = await collect(session.events)
    assert [e.kind for e in rest] == ["exited", "closed"]
    assert rest[0].exit_code in (128 + signal.SIGTERM, 128 + signal.SIGKILL)  # ours: SIGTERM first; 0.169: SIGKILL
    assert rest[0].seq + 1 == rest[1].seq
    assert await session.terminate() is False  # already gone


async def test_env_policy_include_only_and_overlay(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    policy = p.ExecEnvPolicy(inherit="all", ignore_default_excludes=True, exclude=[], set={"FROM_SET": "s"},
                             include_only=[MARKER, "FROM_*"])
    session = await client.start_process(
        start_params("env-1", ["env"], str(tmp_path), env={"OVERLAY": "o"}, env_policy=policy)
    )
    events = await collect(session.events)
    lines = dict(line.split("=", 1) for line in stdout_of(events).decode().splitlines())
    assert lines == {MARKER: "executor-only", "FROM_SET": "s", "OVERLAY": "o"}
    assert [e.exit_code for e in events if e.kind == "exited"] == [0] and events[-1].kind == "closed"


async def test_default_excludes_drop_secrets_unless_ignored(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    policy = p.ExecEnvPolicy(inherit="all", ignore_default_excludes=False, exclude=["ROOTSTEP_*"], set={},
                             include_only=[])
    session = await client.start_process(start_params("env-2", ["env"], str(tmp_path), env_policy=policy))
    names = {line.split("=", 1)[0] for line in stdout_of(await collect(session.events)).decode().splitlines()}
    assert "SECRET_TOKEN_X" not in names and MARKER not in names


async def test_null_policy_means_exactly_env_and_program_lookup_uses_child_path(
    env: RemoteEnvironment, tmp_path: Path
) -> None:
    client = await env.client()
    tool_dir = tmp_path / "only-here"
    tool_dir.mkdir()
    tool = tool_dir / "only-tool"
    tool.write_text("#!/bin/sh\necho found-by-child-path\n")
    tool.chmod(0o755)
    # Not on any PATH the child has: spawn fails.
    with pytest.raises(JsonRpcError) as err:
        await client.start_process(start_params("look-1", ["only-tool"], str(tmp_path)))
    assert err.value.code == -32603
    # On the child's PATH: found.
    session = await client.start_process(start_params("look-2", ["only-tool"], str(tmp_path),
                                                      env={"PATH": str(tool_dir)}))
    assert stdout_of(await collect(session.events)) == b"found-by-child-path\n"
    # Relative with a slash: against cwd.
    session = await client.start_process(start_params("look-3", ["./only-here/only-tool"], str(tmp_path)))
    assert stdout_of(await collect(session.events)) == b"found-by-child-path\n"


async def test_write_ids_are_idempotent(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    await client.start_process(start_params("dedup", ["cat"], str(tmp_path), pipe_stdin=True))
    session = client._processes["dedup"]
    for write_id, data in (("1", b"a\n"), ("1", b"a\n"), ("2", b"b\n")):
        chunk = base64.b64encode(data).decode()
        params = p.ProcessWriteParams(process_id="dedup", chunk=chunk, write_id=write_id)
        result = await client.call(p.PROCESS_WRITE, params, p.ProcessWriteResult)
        assert result.status == "accepted"
    got = b""
    with anyio.fail_after(20):
        async for event in session.events:
            got += event.data
            if got.endswith(b"b\n"):
                break
    assert got == b"a\nb\n"
    await session.terminate()


async def test_write_statuses_and_errors(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()

    async def write(pid: str, write_id: str = "1") -> str:
        r = await client.call(p.PROCESS_WRITE, {"processId": pid, "chunk": "eA==", "writeId": write_id},
                              p.ProcessWriteResult)
        return r.status

    assert await write("nobody") == "unknownProcess"
    session = await client.start_process(start_params("no-stdin", ["sh", "-c", "sleep 30"], str(tmp_path)))
    assert await write("no-stdin") == "stdinClosed"
    await session.terminate()
    await collect(session.events)
    done = await client.start_process(start_params("done", ["true"], str(tmp_path), pipe_stdin=True))
    await collect(done.events)
    assert await write("done") == "accepted"  # 0.169: a write after exit is accepted and dropped
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_WRITE, {"processId": "done", "chunk": "eA=="})
    assert err.value.code == -32602 and "writeId" in err.value.message
    with pytest.raises(JsonRpcError) as err:
        await write("done", write_id="")
    assert err.value.code == -32602


async def test_bad_start_params(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_START, p.wire(start_params("e", [], str(tmp_path))))
    assert err.value.code == -32602
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_START, {"processId": "m", "argv": ["true"], "cwd": p.path_to_uri(str(tmp_path)),
                                               "tty": False})
    assert err.value.code == -32602 and "env" in err.value.message
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_START, p.wire(start_params("x", ["/definitely/not/here"], str(tmp_path))))
    assert err.value.code == -32603 and "No such file or directory" in err.value.message
    session = await client.start_process(start_params("dup", ["sh", "-c", "sleep 30"], str(tmp_path)))
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_START, p.wire(start_params("dup", ["true"], str(tmp_path))))
    assert err.value.code == -32600
    await session.terminate()
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_START,
                             p.wire(start_params("sbx", ["true"], str(tmp_path), sandbox={"type": "readOnly"})))
    assert err.value.code == -32602


async def test_process_ignoring_sigterm_is_killed(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    script = "trap '' TERM INT; echo ready; while :; do sleep 1; done"
    session = await client.start_process(start_params("stubborn", ["sh", "-c", script], str(tmp_path)))
    async for event in session.events:
        if b"ready" in event.data:
            break
    pids = {proc.pid for proc in psutil.Process().children(recursive=True)
            if "stubborn" in " ".join(proc.cmdline()) or "while :" in " ".join(proc.cmdline())}
    assert pids
    assert await session.terminate() is True
    events = await collect(session.events)
    assert events[-1].kind == "closed" and any(e.kind == "exited" and e.exit_code != 0 for e in events)
    assert await wait_gone(pids) == set()


async def test_process_read_replays_retained_output(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    session = await client.start_process(start_params("rd", ["sh", "-c", "echo one; echo two >&2"], str(tmp_path)))
    await collect(session.events)
    result = await session.read(0)
    data = {c.stream: base64.b64decode(c.chunk) for c in result.chunks}
    assert data == {"stdout": b"one\n", "stderr": b"two\n"}
    assert result.exited and result.closed and result.exit_code == 0
    assert result.next_seq == len(result.chunks) + 3
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.PROCESS_READ, {"processId": "never"})
    assert err.value.code == -32600


async def test_filesystem_reads(env: RemoteEnvironment, tmp_path: Path) -> None:
    (tmp_path / "a b.txt").write_text("spaced")
    (tmp_path / "ü.txt").write_text("umlaut")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a b.txt")
    meta = await env.get_metadata(str(tmp_path / "a b.txt"))
    assert meta is not None and meta.is_file and not meta.is_directory and meta.size == 6
    link = await env.get_metadata(str(tmp_path / "link"))
    assert link is not None and link.is_symlink and link.is_file
    assert await env.get_metadata(str(tmp_path / "missing")) is None
    assert await env.read_file(str(tmp_path / "ü.txt")) == b"umlaut"
    with pytest.raises(FileNotFoundError):
        await env.read_file(str(tmp_path / "missing"))
    entries = dict(await env.read_directory(str(tmp_path)))
    assert set(entries) == {"a b.txt", "ü.txt", "d", "link"}
    assert entries["d"].is_directory and entries["a b.txt"].is_file
    assert await env.canonicalize(str(tmp_path / "link")) == str((tmp_path / "a b.txt").resolve())


async def test_path_uri_errors(env: RemoteEnvironment) -> None:
    client = await env.client()
    for path, needle in (("/etc/hostname", "relative URL without a base"),
                         ("http://x/y", "unsupported path URI scheme `http`")):
        with pytest.raises(JsonRpcError) as err:
            await client.request(p.FS_READ_FILE, {"path": path, "sandbox": None})
        assert err.value.code == -32602 and needle in err.value.message
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.FS_GET_METADATA, {"path": "file:///definitely/missing", "sandbox": None})
    assert err.value.code == -32004


async def test_walk_is_breadth_first_and_sorted(env: RemoteEnvironment, tmp_path: Path) -> None:
    root = make_plugin(tmp_path / "plugin")
    result = await env.walk(str(root), max_depth=1)
    rel = [(e.path.removeprefix(p.path_to_uri(str(root)) + "/"), e.kind) for e in result.entries]
    depth1 = [r for r in rel if "/" not in r[0]]
    assert [r[0] for r in depth1] == [".app.json", ".codex-plugin", ".mcp.json", "bin", "skills"]
    assert rel[: len(depth1)] == depth1  # all of depth 1 first
    assert ("skills/deploy", "directory") in rel and not any(r[0].count("/") >= 2 for r in rel)
    assert not result.truncated and result.errors == []
    limited = await env.walk(str(root), max_depth=6, max_entries=3)
    assert limited.truncated and len(limited.entries) == 3


async def test_streamed_read_of_a_large_file(env: RemoteEnvironment, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    chunks = [c async for c in env.read_file_streamed(str(tmp_path / "big.bin"))]
    assert b"".join(chunks) == data and len(chunks) >= 3
    assert await env.read_file(str(tmp_path / "big.bin")) == data


async def test_capability_discovery(env: RemoteEnvironment, tmp_path: Path) -> None:
    root = make_plugin(tmp_path / "plugin")
    escaping = make_plugin(tmp_path / "escaping", mcp_servers="../outside.json")
    (tmp_path / "outside.json").write_text("{}")
    found = await env.discover_capability_roots(
        [("demo@1", str(root)), ("missing@1", str(tmp_path / "nope")), ("esc@1", str(escaping))])
    demo, missing, esc = found
    uri = p.path_to_uri(str(root))
    assert demo["id"] == "demo@1" and demo["path"] == uri and demo["error"] is None
    plugin = demo["plugin"]
    assert plugin["manifest"]["path"] == uri + "/.codex-plugin/plugin.json"
    assert '"executor-demo"' in plugin["manifest"]["contents"]
    assert plugin["mcpConfig"]["path"] == uri + "/.mcp.json" and "demo" in plugin["mcpConfig"]["contents"]
    assert plugin["appsConfig"]["path"] == uri + "/.app.json"
    assert [s["instructions"]["path"] for s in demo["skills"]] == [uri + "/skills/deploy/SKILL.md"]
    assert demo["skills"][0]["metadata"]["path"] == uri + "/skills/deploy/agents/openai.yaml"
    assert demo["namespaceManifests"][0]["path"] == plugin["manifest"]["path"]
    assert "failed to inspect capability root" in missing["error"] and missing["plugin"] is None
    # A declared MCP path that leaves the root is refused with a warning; the default applies.
    assert esc["plugin"]["mcpConfig"]["path"] == p.path_to_uri(str(escaping)) + "/.mcp.json"
    assert any("mcpServers" in w for w in esc["warnings"])


async def test_http_buffered_streamed_and_errors(env: RemoteEnvironment) -> None:
    client = await env.client()
    with http_server() as origin:
        result, _ = await client.http_request(
            p.HttpRequestParams(method="GET", url=origin.url + "/hello", request_id="r1"))
        assert result.status == 200 and base64.b64decode(result.body_base64) == b"hello"
        assert [h.value for h in result.headers if h.name == "x-multi"] == ["one", "two"]
        assert all(h.name == h.name.lower() for h in result.headers)
        async with env.http_client() as http:
            posted = await http.post(origin.url + "/echo", content=b"payload", headers={"content-type": "text/x-test"})
            assert posted.status_code == 201 and posted.content == b"payload"
            assert origin.requests[-1][3] == b"payload"
            async with http.stream("GET", origin.url + "/stream") as response:
                parts = [part async for part in response.aiter_bytes()]
            assert b"".join(parts) == b"one,two,three"
            redirected = await http.get(origin.url + "/redirect")
            assert redirected.status_code == 200 and redirected.text == "hello"
    with pytest.raises(JsonRpcError) as err:
        await client.http_request(p.HttpRequestParams(method="GET", url="ftp://example.com/x", request_id="r2"))
    assert err.value.code == -32602
    with pytest.raises(JsonRpcError) as err:
        await client.http_request(p.HttpRequestParams(method="GET", url="http://127.0.0.1:1/", request_id="r3"))
    assert err.value.code == -32603


async def test_unknown_method_and_bad_params(env: RemoteEnvironment) -> None:
    client = await env.client()
    with pytest.raises(JsonRpcError) as err:
        await client.request("no/such", {})
    assert err.value.code == -32601 and "no/such" in err.value.message
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.FS_READ_FILE, {"path": 5})
    assert err.value.code == -32602
    assert await env.probe() is True  # still serving


def the_executor() -> psutil.Process:
    """The innermost exec-server process (the npm `codex` is a node wrapper around it)."""
    def is_executor(pr: psutil.Process) -> bool:
        return "exec-server" in " ".join(pr.cmdline())

    found = [pr for pr in psutil.Process().children(recursive=True) if is_executor(pr)]
    return next(pr for pr in found if any(not is_executor(c) for c in pr.children()))


@pytest.mark.parametrize("script", ["echo up; exec sleep 60", "echo up; sleep 60; echo never"],
                         ids=["child", "grandchild"])
async def test_executor_killed_mid_call(which: str, script: str, tmp_path: Path) -> None:
    if which == "reference" and "never" in script:
        pytest.skip("the reference leaves grandchildren behind when it is SIGKILLed; ours reaps them")
    argv = executor_argv(which)
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:]) as env:
        client = await env.client()
        session = await client.start_process(start_params("long", ["sh", "-c", script], str(tmp_path)))
        async for event in session.events:
            if b"up" in event.data:
                break
        executor = the_executor()
        inside = {c.pid for c in executor.children(recursive=True)}
        assert inside
        failure: list[BaseException] = []

        async def pending() -> None:
            try:
                await session.read(after_seq=100, wait_ms=30_000)
            except ConnectionClosed as exc:
                failure.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pending)
            await anyio.sleep(0.2)
            executor.kill()
            events = await collect(session.events, until="failed")
        assert failure and "disconnected" in str(failure[0])
        assert events[-1].kind == "failed"
        with pytest.raises(ConnectionError):
            await env.read_file("/etc/hostname")
        assert await wait_gone(inside) == set()


async def test_closing_the_link_kills_running_processes(which: str, tmp_path: Path) -> None:
    argv = executor_argv(which)
    async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:]) as env:
        client = await env.client()
        session = await client.start_process(start_params("bg", ["sh", "-c", "echo up; sleep 60"], str(tmp_path)))
        async for event in session.events:
            if b"up" in event.data:
                break
        before = {pr.pid for pr in psutil.Process().children(recursive=True)}
    assert await wait_gone(before) == set()
    assert alive({pr.pid for pr in psutil.Process().children(recursive=True)}) == set()


def test_client_is_importable_without_a_loop() -> None:
    assert ExecServerClient.__name__ and sys.version_info >= (3, 11)


async def test_http_honours_the_executors_own_proxy_variables(which: str) -> None:
    argv = executor_argv(which)
    with http_server("proxy") as proxy, http_server("origin") as origin:
        proxy_env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        async with RemoteEnvironment.connect_stdio(which, argv[0], argv[1:], env=proxy_env) as env:
            async with env.http_client() as http:
                far = await http.get("http://far.example.invalid/page")
                near = await http.get(origin.url + "/hello")
        assert far.status_code == 200 and far.text == "proxy saw http://far.example.invalid/page"
        assert near.text == "hello"  # NO_PROXY: straight to the origin
        assert [r[1] for r in proxy.requests] == ["http://far.example.invalid/page"]


async def test_signal_interrupt(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    session = await client.start_process(start_params("int", ["sh", "-c", "echo up; exec sleep 30"], str(tmp_path)))
    async for event in session.events:
        if b"up" in event.data:
            break
    assert await client.request(p.PROCESS_SIGNAL, {"processId": "int", "signal": "interrupt"}) == {}
    events = await collect(session.events)
    assert [e.exit_code for e in events if e.kind == "exited"] == [130]
    assert await client.request(p.PROCESS_SIGNAL, {"processId": "int", "signal": "interrupt"}) == {}  # exited: no-op


async def test_a_chatty_executor_stderr_is_drained(which: str, tmp_path: Path) -> None:
    """2 MB on stderr before the handshake: the client must read it or the executor blocks."""
    wrapper = tmp_path / "chatty.sh"
    argv = executor_argv(which)
    wrapper.write_text("#!/bin/sh\nhead -c 2000000 /dev/zero | tr '\\\\0' 'e' >&2\nexec "
                       + " ".join(f"'{a}'" for a in argv) + "\n")
    wrapper.chmod(0o755)
    async with RemoteEnvironment.connect_stdio(which, str(wrapper), initialize_timeout=30) as chatty:
        assert await chatty.probe() is True


async def test_tty_process(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()
    script = "tty; stty size; read line; echo got:$line"
    session = await client.start_process(start_params("tty", ["sh", "-c", script], str(tmp_path), tty=True,
                                                      env={"PATH": "/usr/bin:/bin"}))
    out = b""
    with anyio.fail_after(20):
        async for event in session.events:
            assert event.kind == "output" and event.stream == "pty"
            out += event.data
            if b"24 80" in out:
                break
    assert await session.write(b"hello\n") == "accepted"
    events = await collect(session.events)
    out += b"".join(e.data for e in events if e.kind == "output")
    assert b"/dev/pts/" in out and b"24 80\r\n" in out and b"got:hello\r\n" in out
    assert [e.exit_code for e in events if e.kind == "exited"] == [0]


async def test_filesystem_writes(env: RemoteEnvironment, tmp_path: Path) -> None:
    client = await env.client()

    def uri(*parts: str) -> str:
        return p.path_to_uri(str(tmp_path.joinpath(*parts)))

    await client.request(p.FS_CREATE_DIRECTORY, {"path": uri("a", "b"), "recursive": True, "sandbox": None})
    await client.request(p.FS_WRITE_FILE, {"path": uri("a", "b", "f.txt"),
                                           "dataBase64": base64.b64encode(b"data").decode(), "sandbox": None})
    assert (tmp_path / "a" / "b" / "f.txt").read_bytes() == b"data"
    await client.request(p.FS_COPY, {"sourcePath": uri("a"), "destinationPath": uri("c"), "recursive": True,
                                     "sandbox": None})
    assert (tmp_path / "c" / "b" / "f.txt").read_bytes() == b"data"
    await client.request(p.FS_COPY, {"sourcePath": uri("a", "b", "f.txt"), "destinationPath": uri("g.txt"),
                                     "recursive": False, "sandbox": None})
    assert (tmp_path / "g.txt").read_bytes() == b"data"
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.FS_COPY, {"sourcePath": uri("a"), "destinationPath": uri("d"), "sandbox": None})
    assert err.value.code == -32602  # `recursive` is required
    await client.request(p.FS_REMOVE, {"path": uri("a"), "recursive": True, "force": True, "sandbox": None})
    assert not (tmp_path / "a").exists()
    await client.request(p.FS_REMOVE, {"path": uri("missing"), "force": True, "sandbox": None})
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.FS_REMOVE, {"path": uri("missing"), "force": False, "sandbox": None})
    assert err.value.code == -32004
    with pytest.raises(JsonRpcError) as err:
        await client.request(p.FS_WRITE_FILE, {"path": uri("nodir", "x"), "dataBase64": "", "sandbox": None})
    assert err.value.code == -32004
