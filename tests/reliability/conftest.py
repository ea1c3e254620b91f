"""Fixtures of the reliability suite: the mock model, homes with MCP servers, leak guards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.mcp_helpers import live_children
from tests.fixtures.mock_model import MockModel, assistant_text


@pytest.fixture
def model() -> Iterator[MockModel]:
    with MockModel(default=assistant_text("default answer")) as server:
        yield server


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves a live child process of ours behind."""
    before = live_children()
    yield
    leaked = live_children() - before
    assert not leaked, f"leaked child processes: {sorted(leaked)}"
