"""A thread with nothing to start gets its tools provider built on first use (no mcp import at
thread/start), and behaves as the real provider from then on."""

from __future__ import annotations

from typing import Any

import anyio

from rootstep.app_server.lazy_tools import LazyToolsProvider


class Real:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.servers = "the servers"

    async def prestart(self) -> None:
        self.calls.append("prestart")

    async def validate_required_servers(self) -> None:
        self.calls.append("validate")

    async def aclose(self) -> None:
        self.calls.append("aclose")


def test_thread_start_hooks_do_not_build_then_first_use_builds_once() -> None:
    built: list[Real] = []

    def build() -> Any:
        built.append(Real())
        return built[-1]

    lazy = LazyToolsProvider(build)

    async def main() -> None:
        await lazy.validate_required_servers()
        await lazy.prestart()
        assert built == [] and not lazy.built
        assert lazy.servers == "the servers"  # first real use builds
        assert hasattr(lazy, "prestart") and lazy.servers == "the servers"
        assert len(built) == 1
        await lazy.prestart()
        await lazy.aclose()
        assert built[0].calls == ["prestart", "aclose"]

    anyio.run(main)


def test_closing_an_unbuilt_provider_builds_nothing() -> None:
    built: list[int] = []
    lazy = LazyToolsProvider(lambda: built.append(1))
    anyio.run(lazy.aclose)
    assert built == [] and not lazy.built
