"""The initialize handshake, as models (the typed reference for clients and tests).

The server itself answers ``initialize`` from :mod:`rootstep.app_server.handshake`, which is
kept free of pydantic so the answer can go out before pydantic is imported; a test checks
that its output validates against :class:`InitializeResponse`.
"""

from __future__ import annotations

from typing import Literal

from rootstep.protocol.base import Params, WireModel


class ClientInfo(WireModel):
    name: str
    title: str | None = None
    version: str


class InitializeCapabilities(WireModel):
    experimental_api: bool = False
    opt_out_notification_methods: list[str] | None = None


class InitializeParams(Params):
    client_info: ClientInfo
    capabilities: InitializeCapabilities | None = None


class InitializeResponse(WireModel):
    user_agent: str
    codex_home: str
    platform_family: Literal["unix", "windows"]
    platform_os: Literal["linux", "macos", "windows"]

