"""A reaper process that kills our children's process groups when the exec-server dies.

Children run in their own sessions (so a signal to one never hits the executor) and get a
parent-death signal, but a grandchild (``sh -c 'x; sleep 60'``) does not inherit that signal.
If the executor is SIGKILLed, nothing else would ever kill those groups. So at start-up the
executor forks a tiny reaper in its own session; the executor tells it each child's process
group over a pipe, and when that pipe reaches EOF (the executor is gone, however it died) the
reaper SIGKILLs every group it was told about and exits.
"""

from __future__ import annotations

import os
import signal
import struct

_write_fd: int | None = None


def start() -> None:
    """Fork the reaper (call once, before the event loop starts)."""
    global _write_fd
    if _write_fd is not None:
        return
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reaper
        try:
            os.close(write_fd)
            os.setsid()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_IGN)
            groups: set[int] = set()
            buf = b""
            while True:
                data = os.read(read_fd, 4096)
                if not data:
                    break
                buf += data
                while len(buf) >= 5:
                    op, pgid = struct.unpack("=ci", buf[:5])
                    buf = buf[5:]
                    if op == b"+":
                        groups.add(pgid)
                    else:
                        groups.discard(pgid)
            for pgid in groups:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
        finally:
            os._exit(0)
    os.close(read_fd)
    _write_fd = write_fd


def _send(op: bytes, pgid: int) -> None:
    if _write_fd is not None:
        try:
            os.write(_write_fd, struct.pack("=ci", op, pgid))
        except OSError:
            pass


def track(pgid: int) -> None:
    _send(b"+", pgid)


def untrack(pgid: int) -> None:
    _send(b"-", pgid)
