"""Serve one app-server connection over this process's stdin/stdout."""

from __future__ import annotations

import logging
import signal
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream

from rootstep.app_server.server import AppServer
from rootstep.config import Config, ConfigError, load_config
from rootstep.config.home import codex_home
from rootstep.jsonrpc.stdio import open_stdio

log = logging.getLogger(__name__)


class _Replay(ByteReceiveStream):
    """Bytes read ahead (by the fast handshake) first, then the real stream."""

    def __init__(self, first: bytes, rest: ByteReceiveStream) -> None:
        self._first = first
        self._rest = rest

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._first:
            chunk, self._first = self._first[:max_bytes], self._first[max_bytes:]
            return chunk
        return await self._rest.receive(max_bytes)

    async def aclose(self) -> None:
        await self._rest.aclose()


def load_startup_config(overrides: list[str]) -> Config:
    """config.toml + ``-c``; a broken file is reported and replaced by defaults, not fatal."""
    home = codex_home()
    try:
        return load_config(home, overrides)
    except ConfigError as exc:
        log.error("config: %s; using defaults", exc)
        fallback = load_config(home / ".rootstep-missing", [])
        return fallback.evolve(home=home, warnings=(f"config.toml ignored: {exc}",))


async def serve_stdio(overrides: list[str], session: Any = None, replay: bytes = b"") -> None:
    config = load_startup_config(overrides)
    from rootstep.app_server.tools import install_tools

    server = AppServer(config, overrides=overrides)
    install_tools(server)
    receive, send = await open_stdio()

    async with anyio.create_task_group() as group:

        async def stop_on_signal() -> None:
            # SIGTERM/SIGINT (the SDK's close() sends SIGTERM right after closing stdin) end
            # the server the same orderly way EOF does, so child processes are reaped.
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("received signal %s; shutting down", signum)
                    group.cancel_scope.cancel()
                    return

        group.start_soon(stop_on_signal)
        await server.serve(_Replay(replay, receive) if replay else receive, send, session=session)
        group.cancel_scope.cancel()
