"""Enforcement on Linux: a command wrapped in bubblewrap (Debian's ``bubblewrap`` package).

The whole filesystem is bound read-only, then each writable root is bound read-write over it
and each existing protected path under a root (``.git``, ``.agents``, ``.codex``, ``.aws``) is
bound read-only again. A command without network gets its own network namespace (loopback
only) and a seccomp filter (:mod:`.seccomp`) that refuses IP sockets, so neither a connect to
another host nor one to this machine's loopback services gets through. User and pid namespaces
are new; ``--die-with-parent`` takes the sandbox down with its launcher, and when the sandbox's
first process dies the kernel kills everything left in its pid namespace.

:func:`probe` checks once per process that this works here; :func:`wrap` refuses (raises
:class:`SandboxUnavailable`) instead of ever running a sandboxed command without the sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from rootstep.sandbox.policy import SandboxPermissions
from rootstep.sandbox.seccomp import SeccompUnsupported, network_filter

BWRAP_ENV = "ROOTSTEP_BWRAP"  # path of the bwrap binary to use (default: found on PATH)


class SandboxUnavailable(RuntimeError):
    """The policy asks for a sandbox this machine cannot enforce; nothing was run."""


def bwrap_path() -> str | None:
    explicit = os.environ.get(BWRAP_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def _probe(path: str | None) -> str | None:
    if path is None:
        return "bubblewrap (`bwrap`) is not installed; install Debian's `bubblewrap` package"
    try:
        network_filter()
    except SeccompUnsupported as exc:
        return str(exc)
    launch = _build(path, ["/bin/true"], "/", SandboxPermissions(unrestricted=False), tty=False)
    try:
        result = subprocess.run(launch.argv, pass_fds=launch.pass_fds, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start a sandbox here: {exc}"
    finally:
        launch.close()
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip() or f"exit code {result.returncode}"
        return f"bubblewrap cannot start a sandbox here: {detail}"
    return None


def probe() -> str | None:
    """None when sandboxed commands can be enforced on this machine, else why not (cached)."""
    return _probe(bwrap_path())


def sandbox_type() -> str:
    """What ``process/start`` reports as ``sandboxType`` for a sandboxed command."""
    return "linuxSeccomp"


@dataclass
class SandboxLaunch:
    """The argv to spawn and the fds it must inherit; ``close()`` after the spawn."""

    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    sandboxed: bool = False
    _owned: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self._owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self._owned.clear()


def wrap(argv: list[str], cwd: str, permissions: SandboxPermissions, *, tty: bool = False) -> SandboxLaunch:
    """The launch for ``argv`` under ``permissions``: unchanged when unrestricted, else inside
    bubblewrap. Raises :class:`SandboxUnavailable` when the sandbox cannot be enforced."""
    if permissions.unrestricted:
        return SandboxLaunch(list(argv))
    reason = probe()
    if reason is not None:
        raise SandboxUnavailable(f"sandbox cannot be enforced on this machine: {reason}")
    path = bwrap_path()
    assert path is not None
    return _build(path, argv, cwd, permissions, tty=tty)


def bwrap_args(permissions: SandboxPermissions, cwd: str, *, tty: bool, seccomp_fd: int | None) -> list[str]:
    """Pure: the bubblewrap options for ``permissions`` (paths that do not exist are skipped,
    since bubblewrap cannot bind them)."""
    args = [] if tty else ["--new-session"]  # a tty command keeps its terminal as controlling tty
    args += ["--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev"]
    for root in permissions.writable_roots:
        if os.path.isdir(root.root):
            args += ["--bind", root.root, root.root]
    for root in permissions.writable_roots:
        for sub in root.read_only_subpaths:
            if os.path.lexists(sub):
                args += ["--ro-bind", sub, sub]
    args += ["--unshare-user", "--unshare-pid"]
    if not permissions.network:
        args.append("--unshare-net")
    args += ["--proc", "/proc"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--chdir", cwd]
    return args


def _build(path: str, argv: list[str], cwd: str, permissions: SandboxPermissions, *, tty: bool) -> SandboxLaunch:
    owned: list[int] = []
    seccomp_fd = None
    if not permissions.network:
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, network_filter())
        finally:
            os.close(write_end)
        seccomp_fd = read_end
        owned.append(read_end)
    argv_out = [path, *bwrap_args(permissions, cwd, tty=tty, seccomp_fd=seccomp_fd), "--", *argv]
    return SandboxLaunch(argv_out, tuple(owned), sandboxed=True, _owned=owned)
