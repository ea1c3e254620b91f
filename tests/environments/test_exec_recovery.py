"""What a resumed client replays from one ``process/read`` answer (pure decisions)."""

from __future__ import annotations

import pytest

from rootstep.environments.exec_recovery import Missed, RecoveryGap, plan_replay


def plan(**kw: object) -> list[Missed]:
    args: dict[str, object] = dict(last_delivered=1, held=(), exit_known=False, chunks=(), next_seq=2,
                                   exited=False, exit_code=None, closed=False)
    args.update(kw)
    return plan_replay(**args)  # type: ignore[arg-type]


def test_nothing_missed() -> None:
    assert plan(chunks=[(1, "stdout", b"old")]) == []


def test_missed_output_in_seq_order_skipping_what_is_held() -> None:
    missed = plan(chunks=[(3, "stderr", b"c"), (2, "stdout", b"b"), (4, "stdout", b"d")], held=[3], next_seq=5)
    assert [(m.seq, m.kind, m.data) for m in missed] == [(2, "output", b"b"), (4, "output", b"d")]


def test_exit_and_close_are_rebuilt_from_the_free_seqs() -> None:
    missed = plan(chunks=[(2, "stdout", b"b")], next_seq=5, exited=True, exit_code=3, closed=True)
    assert [(m.seq, m.kind, m.exit_code) for m in missed] == [
        (2, "output", None), (3, "exited", 3), (4, "closed", None)]


def test_an_exit_already_seen_is_not_replayed_again() -> None:
    missed = plan(last_delivered=3, held=(), exit_known=True, next_seq=5, exited=True, exit_code=0, closed=True)
    assert [(m.seq, m.kind) for m in missed] == [(4, "closed")]


def test_output_no_longer_retained_is_a_gap() -> None:
    with pytest.raises(RecoveryGap, match="no longer retained"):
        plan(chunks=[(4, "stdout", b"d")], next_seq=5)


def test_an_exited_process_without_exit_code_cannot_be_replayed() -> None:
    with pytest.raises(RecoveryGap, match="exit code"):
        plan(next_seq=3, exited=True, exit_code=None)
