"""``rootstep app-server``: serve the app-server protocol on stdio (or, with ``--listen
ws://IP:PORT | unix://[PATH] | off``, through :mod:`rootstep.app_server.listeners`).

Start-up is arranged so ``initialize`` is answered fast: this module imports only the
standard library, reads the first line itself and, when it is a valid ``initialize``, answers
it right away; only then does it import pydantic, anyio and the rest of the server, which
continue the same connection (already initialized) with any bytes read past that line.
"""

from __future__ import annotations

import json
import os
import sys

# An ``initialize`` line is small: past this, the bytes go to the full server, whose framing
# (``rootstep.jsonrpc.framing.LineReader``) holds every line, the first included, to its limit.
FIRST_LINE_LIMIT = 1024 * 1024
# ``\uD800``-``\uDFFF``: a line that may hold a lone surrogate is left to the full parser.
_SURROGATE_ESCAPE = rb"\\u[dD][89a-fA-F]"


def _fast_handshake() -> tuple[object | None, bytes, bool]:
    """(session or None, bytes to replay, eof). Never raises on bad input: the full server
    re-reads anything this path does not handle and answers it properly. Past
    :data:`FIRST_LINE_LIMIT` without a newline, the bytes read so far go to the full server,
    whose framing caps the line like any other (``-32600`` past 64 MiB)."""
    from rootstep.app_server.handshake import HandshakeError, initialize_result, parse_initialize
    from rootstep.config.home import codex_home_str

    buffer = bytearray()
    scanned = 0
    while (newline := buffer.find(b"\n", scanned)) < 0:
        scanned = len(buffer)
        if scanned > FIRST_LINE_LIMIT:
            return None, bytes(buffer), False
        try:
            chunk = os.read(0, 65536)
        except OSError:
            return None, bytes(buffer), True
        if not chunk:
            return None, bytes(buffer), not buffer.strip()
        buffer += chunk
    whole = bytes(buffer)
    line, rest = whole[:newline], whole[newline + 1:]
    import re

    if re.search(_SURROGATE_ESCAPE, line):
        return None, whole, False
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # the full server answers a bad line properly
        return None, whole, False
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return None, whole, False
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        return None, whole, False
    try:
        session = parse_initialize(message.get("params"))
    except HandshakeError:
        return None, whole, False
    response = {"id": request_id, "result": initialize_result(session, codex_home_str())}
    data = json.dumps(response, separators=(",", ":")).encode() + b"\n"
    while data:
        data = data[os.write(1, data):]
    return session, rest, False


def _mcp_likely() -> bool:
    """Will this process soon talk to an MCP server? (config.toml declares servers, or
    environments.toml executors that selected roots live in.) Only preloading depends on it."""
    from rootstep.config.home import codex_home_str

    home = codex_home_str()
    for name, marker in (("config.toml", "mcp_servers"), ("environments.toml", "environments")):
        try:
            with open(os.path.join(home, name), encoding="utf-8", errors="replace") as f:
                if marker in f.read(1 << 20):
                    return True
        except OSError:
            continue
    return False


def _setup_logging() -> None:
    import logging

    # ROOTSTEP_LOG=debug|info|warning|error; Codex's RUST_LOG=warn style is honoured too.
    raw = os.environ.get("ROOTSTEP_LOG") or os.environ.get("RUST_LOG", "").split(",")[0].split("=")[-1] or "warning"
    level = {"WARN": "WARNING", "TRACE": "DEBUG"}.get(raw.upper(), raw.upper())
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(listen: str = "stdio://", overrides: list[str] | None = None) -> int:
    overrides = list(overrides or [])
    for item in overrides:
        # The full parse (TOML values) happens with the config; only shape errors are fatal,
        # and those are checked here without importing anything.
        key, sep, _ = item.partition("=")
        if not sep or not key.strip() or any(not part.strip() for part in key.split(".")):
            print(f"rootstep app-server: invalid override {item!r}: expected key=value", file=sys.stderr)
            return 2
    # The MCP SDK's client, when it is needed, loads without the SDK's server side.
    from rootstep.mcp.sdk_packages import defer_package_inits

    defer_package_inits()
    if listen not in ("stdio://", "stdio", "stdio:"):
        _setup_logging()
        from rootstep.app_server.listeners import run as run_listener

        return run_listener(listen, overrides)
    from rootstep import preload

    # The server loads while the client sends (and waits for) `initialize`: the answer comes from
    # the fast path below, the server's modules from a background thread.
    server_modules = preload.start([*preload.RUNTIME_MODULES, "rootstep.app_server.stdio"])
    session, replay, eof = _fast_handshake()
    if eof:
        return 0
    _setup_logging()
    if server_modules is not None:
        server_modules.join()
    # What a first turn needs next: the model client, and the MCP SDK when servers are likely
    # (once the first request is answered: the imports would slow its answer down).
    preload.start_later(preload.MODEL_MODULES + (preload.MCP_MODULES if _mcp_likely() else ()))
    import anyio

    from rootstep.app_server.stdio import serve_stdio

    try:
        anyio.run(serve_stdio, overrides, session, replay)
    except KeyboardInterrupt:
        return 130
    return 0
