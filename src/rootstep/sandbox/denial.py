"""Whether a failed command was most likely stopped by the sandbox (0.169's heuristic).

Used to decide whether a failure is a *sandbox denial*: under ``untrusted`` (and granular with
``sandbox_approval``) such a command may be retried without the sandbox once the user approves.
"""

from __future__ import annotations

import signal

_KEYWORDS = (
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "landlock",
    "failed to write file",
)
_QUICK_REJECT_EXIT_CODES = (2, 126, 127)


def is_likely_sandbox_denied(*, sandboxed: bool, exit_code: int, output: str) -> bool:
    """Pure: a non-zero exit of a sandboxed command whose output names a denial, or that died
    of SIGSYS (a seccomp kill)."""
    if not sandboxed or exit_code == 0:
        return False
    lowered = output.lower()
    if any(word in lowered for word in _KEYWORDS):
        return True
    if exit_code in _QUICK_REJECT_EXIT_CODES:
        return False
    return exit_code == 128 + signal.SIGSYS
