"""The write side of the exec-server ``fs/*`` API, ours next to the reference ``codex exec-server``:
``fs/open`` ``mode: replace`` + ``fs/writeBlock``, handle errors, and rootstep's ``fs/rename``
(the reference answers -32601: callers fall back to in-place writes)."""

from __future__ import annotations

import base64
import sys

import anyio
import pytest

from rootstep.environments.base import RenameUnsupported
from rootstep.environments.remote import RemoteEnvironment
from rootstep.jsonrpc.errors import JsonRpcError


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _script(env: RemoteEnvironment, root) -> list:
    client = await env.client()
    (root / "t").write_text("old content")
    out = []

    async def call(method, params):
        try:
            out.append((method, "ok", await client.request(method, params)))
        except JsonRpcError as exc:
            out.append((method, exc.code, exc.message.replace(str(root), "{root}")))

    await call("fs/open", {"handleId": "w", "path": f"file://{root}/t", "mode": "replace", "sandbox": None})
    out.append(("truncated", (root / "t").read_bytes()))
    await call("fs/writeBlock", {"handleId": "w", "offset": 0, "chunk": b64(b"new ")})
    await call("fs/writeBlock", {"handleId": "w", "offset": 4, "chunk": b64(b"data")})
    await call("fs/writeBlock", {"handleId": "w", "offset": 2, "chunk": b64(b"XX")})
    await call("fs/writeBlock", {"handleId": "w", "offset": 0, "chunk": ""})
    await call("fs/readBlock", {"handleId": "w", "offset": 0, "len": 4})
    await call("fs/close", {"handleId": "w"})
    out.append(("content", (root / "t").read_bytes()))
    await call("fs/writeBlock", {"handleId": "gone", "offset": 0, "chunk": b64(b"x")})
    await call("fs/readBlock", {"handleId": "gone", "offset": 0, "len": 1})
    await call("fs/close", {"handleId": "gone"})
    await call("fs/open", {"handleId": "d", "path": f"file://{root}", "mode": "replace", "sandbox": None})
    await call("fs/open", {"handleId": "m", "path": f"file://{root}/missing/x", "mode": "replace", "sandbox": None})
    await call("fs/remove", {"path": f"file://{root}/nope", "recursive": False, "force": False, "sandbox": None})
    await call("fs/writeFile", {"path": f"file://{root}/missing/x", "dataBase64": b64(b"x"), "sandbox": None})
    return out


def _run(command, root):
    async def main():
        async with RemoteEnvironment.connect_stdio("exec", command[0], command[1:]) as env:
            return await _script(env, root)

    return anyio.run(main)


def test_block_writes_match_the_reference(tmp_path, reference_codex):
    (tmp_path / "ref").mkdir()
    (tmp_path / "ours").mkdir()
    ref = _run([str(reference_codex), "exec-server", "--listen", "stdio"], tmp_path / "ref")
    ours = _run([sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"], tmp_path / "ours")
    assert ours == ref
    assert ("content", b"neXXdata") in ours


def test_rename_is_ours_and_the_reference_lacks_it(tmp_path, reference_codex):
    (tmp_path / "a").write_text("a")

    async def main(command):
        async with RemoteEnvironment.connect_stdio("exec", command[0], command[1:]) as env:
            await env.rename(str(tmp_path / "a"), str(tmp_path / "b"))

    anyio.run(main, [sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"])
    assert (tmp_path / "b").read_text() == "a" and not (tmp_path / "a").exists()
    with pytest.raises(RenameUnsupported):
        anyio.run(main, [str(reference_codex), "exec-server", "--listen", "stdio"])
