from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import reference_codex_path

DATA = Path(__file__).parent / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["rootstep", "reference"])
def which(request: pytest.FixtureRequest) -> str:
    """Executor tests run against our exec-server and the reference one."""
    if request.param == "reference" and reference_codex_path() is None:
        request.getfixturevalue("reference_codex")  # skips with the reason
    return request.param


@pytest.fixture(scope="session")
def captured() -> dict[str, Any]:
    """Strings and shapes captured from codex 0.169 (``data/captured_0169.json``; ``{cwd}`` stands
    for the probe's working directory)."""
    return json.loads((DATA / "captured_0169.json").read_text("utf-8"))
