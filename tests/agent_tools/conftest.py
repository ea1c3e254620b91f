from __future__ import annotations

import pytest

from tests.conftest import reference_codex_path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["rootstep", "reference"])
def which(request: pytest.FixtureRequest) -> str:
    """Executor tests run against our exec-server and the reference one."""
    if request.param == "reference" and reference_codex_path() is None:
        request.getfixturevalue("reference_codex")  # skips with the reason
    return request.param
