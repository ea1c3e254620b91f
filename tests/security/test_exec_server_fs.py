"""``fs/readFile`` and ``fs/open`` of the exec-server on hostile paths (issue 16, item 3).

The same assertions run against ``rootstep exec-server`` (under a memory ceiling) and the
reference ``codex exec-server`` 0.169: a device, a FIFO or a directory is ``-32600 path `...`
is not a file``, a file over 512 MiB is ``-32600 file is too large to read: limit is 536870912
bytes``, and the connection keeps serving (a FIFO used to block it for ever).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.conftest import reference_codex_path
from tests.exec_server.helpers import executor_argv, raw_exec
from tests.security.conftest import CAPPED_EXEC_SERVER, make_fifo, make_sparse

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(params=["rootstep", "reference"])
def argv(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "reference":
        if reference_codex_path() is None:
            request.getfixturevalue("reference_codex")  # skips with the reason
        return executor_argv("reference")
    return list(CAPPED_EXEC_SERVER)


def uri(path: Path | str) -> str:
    return f"file://{path}"


async def test_reads_refuse_devices_fifos_directories_and_huge_files(argv: list[str], tmp_path: Path) -> None:
    fifo = make_fifo(tmp_path / "fifo")
    huge = make_sparse(tmp_path / "huge.bin", 600 * 1024 * 1024)
    (tmp_path / "ok.txt").write_text("fine")
    not_a_file = {"code": -32600, "message": "path `{}` is not a file"}
    async with raw_exec(argv) as ex:
        await ex.handshake()
        with anyio.fail_after(30):  # a FIFO must not block the connection
            for i, path in enumerate(("/dev/zero", str(fifo), str(tmp_path))):
                r = await ex.call(10 + i, "fs/readFile", {"path": uri(path)})
                assert r["error"] == {**not_a_file, "message": not_a_file["message"].format(path)}
                r = await ex.call(20 + i, "fs/open", {"path": uri(path), "handleId": f"h{i}"})
                assert r["error"] == {**not_a_file, "message": not_a_file["message"].format(path)}
            r = await ex.call(30, "fs/readFile", {"path": uri(huge)})
            assert r["error"] == {"code": -32600, "message": "file is too large to read: limit is 536870912 bytes"}
            r = await ex.call(31, "fs/readFile", {"path": uri(tmp_path / "ok.txt")})
            assert r["result"] == {"dataBase64": "ZmluZQ=="}
