"""The ``captured`` fixture: strings and shapes captured from codex 0.169
(``data/captured_0169.json``; ``{cwd}`` stands for the probe's working directory). Test modules
import it (``from tests.agent_tools.captured import captured``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def captured() -> dict[str, Any]:
    return json.loads((DATA / "captured_0169.json").read_text("utf-8"))
