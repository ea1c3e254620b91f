"""MCP runtime tests run on asyncio and never leave a child process behind."""

from __future__ import annotations

import pytest

from tests.fixtures.mcp_helpers import live_children


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def no_leaks():
    """Fails the test if it leaves a child process of ours running."""
    before = live_children()
    yield
    leaked = live_children() - before
    assert not leaked, f"leaked child processes: {sorted(leaked)}"
