"""Fixtures for driving the app-server over stdio against the mock model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.app_server import AppServerProcess, checked_app_server
from tests.fixtures.mock_model import MockModel, write_config


@pytest.fixture
def codex_home(tmp_path: Path, model: MockModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model)
    return home


@pytest.fixture
def app(codex_home: Path) -> Iterator[AppServerProcess]:
    with checked_app_server(codex_home) as server:
        yield server
