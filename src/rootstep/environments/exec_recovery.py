"""Resuming a websocket exec-server session: what to replay for each live process.

When a websocket link drops, the executor keeps the session (and its processes) for 30 s.
The client reconnects with ``initialize{resumeSessionId}`` and, for every process it still
follows, asks ``process/read afterSeq=<last delivered seq> waitMs=0``. The answer carries the
retained output chunks, ``nextSeq`` and the exit/closed state, but not the ``exited`` and
``closed`` events themselves: :func:`plan_replay` rebuilds the missed events in seq order the
way the reference's ``client_recovery.rs`` does, and refuses (a gap) when the executor no
longer retains something the client never saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

RECOVERY_TIMEOUT_S = 25.0  # inside the server's 30 s retention, as the reference leaves margin
RECOVERY_RETRY_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Missed:
    """One event to replay: ``kind`` is ``output``, ``exited`` or ``closed``."""

    kind: str
    seq: int
    stream: str = ""
    data: bytes = b""
    exit_code: int | None = None


class RecoveryGap(Exception):
    """The executor's answer cannot be turned into the events the client missed."""


def plan_replay(
    *,
    last_delivered: int,
    held: Iterable[int],
    exit_known: bool,
    chunks: Iterable[tuple[int, str, bytes]],
    next_seq: int,
    exited: bool,
    exit_code: int | None,
    closed: bool,
) -> list[Missed]:
    """The events with seq in ``(last_delivered, nextSeq)`` the client has neither delivered
    nor holds (out of order), in seq order.

    ``held`` are seqs already received out of order; ``exit_known`` says the exit event was
    delivered or is held. Seqs no chunk covers are, in order of preference: the ``closed``
    event (the last seq, when the process is closed), the ``exited`` event (the first such
    seq, when the process exited and the client has not seen the exit), else a gap.
    """
    target = next_seq - 1
    if target <= last_delivered:
        return []
    have = set(held)
    by_seq: dict[int, Missed] = {}
    for seq, stream, data in chunks:
        if seq > target:
            raise RecoveryGap(f"recovered process output sequence {seq} exceeds target sequence {target}")
        if seq > last_delivered and seq not in have:
            by_seq[seq] = Missed("output", seq, stream, data)
    need_exit = exited and not exit_known
    out: list[Missed] = []
    for seq in range(last_delivered + 1, target + 1):
        if seq in have:
            continue
        if seq in by_seq:
            out.append(by_seq[seq])
        elif closed and seq == target:
            if need_exit:
                raise RecoveryGap(f"process events are no longer retained while recovering through sequence {target}")
            out.append(Missed("closed", seq))
        elif need_exit:
            if exit_code is None:
                raise RecoveryGap("recovering exited process did not include its exit code")
            out.append(Missed("exited", seq, exit_code=exit_code))
            need_exit = False
        else:
            raise RecoveryGap(f"process events are no longer retained while recovering through sequence {target}")
    return out
