"""A seccomp-BPF program that takes the network away from a sandboxed command.

Built as raw classic-BPF bytes (no library needed) and handed to bubblewrap with ``--seccomp FD``,
which installs it right before it executes the command. Like codex's Linux sandbox it answers
``EPERM`` to every socket operation that could reach the network (``connect``, ``bind``,
``listen``, ``accept``, ``sendto``, …) and to ``socket``/``socketpair`` for any family but
``AF_UNIX``; local pipes and unix sockets keep working. ``ptrace``, ``process_vm_*`` and
``io_uring`` are refused as well (they could step around the filter).
"""

from __future__ import annotations

import errno
import platform
import struct

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06

_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000

_AF_UNIX = 1
_X32_SYSCALL_BIT = 0x40000000

# offsets in struct seccomp_data
_NR, _ARCH, _ARG0 = 0, 4, 16

_ARCHES = {
    # machine: (AUDIT_ARCH, denied syscalls, socket, socketpair)
    "x86_64": (
        0xC000003E,
        {
            "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "connect": 42, "accept": 43, "accept4": 288, "bind": 49, "listen": 50,
            "getpeername": 52, "getsockname": 51, "shutdown": 48, "sendto": 44, "sendmmsg": 307,
            "recvmmsg": 299, "getsockopt": 55, "setsockopt": 54,
        },
        41, 53,
    ),
    "aarch64": (
        0xC00000B7,
        {
            "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "connect": 203, "accept": 202, "accept4": 242, "bind": 200, "listen": 201,
            "getpeername": 205, "getsockname": 204, "shutdown": 210, "sendto": 206, "sendmmsg": 269,
            "recvmmsg": 243, "getsockopt": 209, "setsockopt": 208,
        },
        198, 199,
    ),
}


class SeccompUnsupported(RuntimeError):
    pass


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def network_filter(machine: str | None = None) -> bytes:
    """The program as ``struct sock_filter[]`` bytes, for the running (or named) architecture."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SeccompUnsupported(f"no seccomp network filter for architecture {machine!r}")
    audit_arch, denied, nr_socket, nr_socketpair = _ARCHES[machine]
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _ins(_LD_W_ABS, _ARCH),
        _ins(_JEQ_K, audit_arch, 1, 0),
        _ins(_RET_K, _SECCOMP_RET_KILL_PROCESS),
        _ins(_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":  # x32 calls alias the 64-bit table: refuse them outright
        prog += [_ins(_JGE_K, _X32_SYSCALL_BIT, 0, 1), _ins(_RET_K, deny)]
    for nr in sorted(set(denied.values())):
        prog += [_ins(_JEQ_K, nr, 0, 1), _ins(_RET_K, deny)]
    prog += [
        _ins(_JEQ_K, nr_socket, 1, 0),
        _ins(_JEQ_K, nr_socketpair, 0, 3),
        _ins(_LD_W_ABS, _ARG0),
        _ins(_JEQ_K, _AF_UNIX, 1, 0),
        _ins(_RET_K, deny),
        _ins(_RET_K, _SECCOMP_RET_ALLOW),
    ]
    return b"".join(prog)
