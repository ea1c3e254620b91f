"""``IP:PORT`` as codex's listeners parse it (Rust's ``SocketAddr``): a literal address only.

No host names (``localhost``), no shorthand (``127.1``, ``0``, ``2130706433``), no leading zeros,
IPv6 in brackets: what a user reads in the URL is exactly what is bound, so a "loopback"
listener can never end up on every interface. Standard library only.
"""

from __future__ import annotations

import ipaddress


def parse_socket_addr(text: str) -> tuple[str, int] | None:
    """``(host, port)`` for ``IP:PORT`` / ``[IPv6]:PORT``; None for anything else (pure)."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        version = 6
    else:
        host, sep, port = text.rpartition(":")
        version = 4
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65535:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version != version or "%" in host:
        return None
    return host, int(port)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback
