"""The ``initialize`` decision, in plain Python (no pydantic, no anyio).

Kept dependency-free so the process can answer ``initialize`` from the very first line it
reads, before importing the rest of the server (see :mod:`rootstep.app_server.main`).
"""

from __future__ import annotations

import os
import sys

from rootstep import CODEX_COMPAT_VERSION

# Client names that never become the originator (Codex keeps its own then).
_RESERVED_ORIGINATORS = {"codex_app_server_daemon", "codex-backend"}


class HandshakeError(ValueError):
    """Invalid initialize params; the message is the JSON-RPC error message (-32600)."""


class ClientSession:
    """What the handshake negotiated for one connection.

    A plain class, not a dataclass: importing ``dataclasses`` costs ~5 ms of start-up.
    """

    __slots__ = ("client_name", "client_version", "experimental_api", "opt_out")

    def __init__(
        self,
        client_name: str,
        client_version: str,
        experimental_api: bool = False,
        opt_out: frozenset[str] = frozenset(),
    ) -> None:
        self.client_name = client_name
        self.client_version = client_version
        self.experimental_api = experimental_api
        self.opt_out = opt_out

    def __repr__(self) -> str:
        return f"ClientSession({self.client_name!r}, experimental_api={self.experimental_api})"

    @property
    def originator(self) -> str:
        return "rootstep" if self.client_name in _RESERVED_ORIGINATORS else self.client_name


def _valid_header_value(value: str) -> bool:
    return all(ch == "\t" or 0x20 <= ord(ch) < 0x7F for ch in value)


def parse_initialize(params: object) -> ClientSession:
    """Validate ``InitializeParams`` → :class:`ClientSession`, or raise :class:`HandshakeError`."""
    if params is None:
        raise HandshakeError("Invalid request: missing field `params`")
    if not isinstance(params, dict):
        raise HandshakeError("Invalid request: invalid type: expected struct InitializeParams")
    info = params.get("clientInfo")
    if not isinstance(info, dict):
        raise HandshakeError("Invalid request: missing field `clientInfo`")
    name, version = info.get("name"), info.get("version")
    if not isinstance(name, str):
        raise HandshakeError("Invalid request: clientInfo.name: expected a string")
    if not isinstance(version, str):
        raise HandshakeError("Invalid request: clientInfo.version: expected a string")
    if not _valid_header_value(name):
        raise HandshakeError(f"Invalid clientInfo.name: '{name}'. Must be a valid HTTP header value.")
    caps = params.get("capabilities") or {}
    if not isinstance(caps, dict):
        raise HandshakeError("Invalid request: capabilities: expected an object")
    opt_out = caps.get("optOutNotificationMethods") or []
    if not isinstance(opt_out, list) or not all(isinstance(m, str) for m in opt_out):
        raise HandshakeError("Invalid request: capabilities.optOutNotificationMethods: expected a list of strings")
    return ClientSession(
        client_name=name,
        client_version=version,
        experimental_api=bool(caps.get("experimentalApi", False)),
        opt_out=frozenset(opt_out),
    )


def user_agent(session: ClientSession) -> str:
    try:
        uname = os.uname()
        system, release, machine = uname.sysname, uname.release, uname.machine
    except AttributeError:  # pragma: no cover - windows
        system, release, machine = sys.platform, "", ""
    terminal = os.environ.get("TERM_PROGRAM") or os.environ.get("TERM") or "unknown"
    return (
        f"{session.client_name}/{CODEX_COMPAT_VERSION} ({system} {release}; {machine}) {terminal} "
        f"({session.client_name}; {session.client_version})"
    )


def initialize_result(session: ClientSession, codex_home: str) -> dict[str, str]:
    """The ``InitializeResponse`` object."""
    if sys.platform == "win32":
        family, os_name = "windows", "windows"
    else:
        family, os_name = "unix", "macos" if sys.platform == "darwin" else "linux"
    return {
        "userAgent": user_agent(session),
        "codexHome": codex_home,
        "platformFamily": family,
        "platformOs": os_name,
    }
