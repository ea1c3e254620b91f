"""Fixtures shared by the OAuth library tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.oauth_server import OAuthTestServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[OAuthTestServer]:
    """A loopback authorization server in front of a bearer-protected MCP echo server."""
    with OAuthTestServer() as s:
        yield s
