"""Rollout files: crash safety and reading."""

from __future__ import annotations

import json
from pathlib import Path

from rootstep.core.rollout import RolloutWriter, read_rollout, rollout_path, thread_id_of


def test_path_layout(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, 1_767_225_600, "0199a000-0000-7000-8000-000000000001")  # 2026-01-01
    assert path.relative_to(tmp_path).as_posix() == (
        "2026/01/01/rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000001.jsonl"
    )
    assert thread_id_of(path) == "0199a000-0000-7000-8000-000000000001"


def test_torn_line_skipped_and_next_append_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000001.jsonl"
    writer = RolloutWriter(path)
    writer.append("session_meta", {"id": "x", "created_at": 1})
    writer.append("turn_started", {"turn_id": "t1", "started_at": 1})
    writer.append("response_item", {"type": "message", "role": "user", "content": []})
    writer.close()
    with path.open("a") as handle:
        handle.write('{"type":"response_item","payload":{"ty')  # crash mid-line
    contents = read_rollout(path)
    assert contents is not None and len(contents.history) == 1
    assert contents.turns[0].status == "interrupted"  # never completed
    writer = RolloutWriter(path)
    writer.append("turn_completed", {"turn_id": "t1", "status": "completed"})
    writer.close()
    contents = read_rollout(path)
    assert contents is not None and contents.turns[0].status == "completed"
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "turn_completed"


def test_no_meta_means_no_thread(tmp_path: Path) -> None:
    path = tmp_path / "rollout-x.jsonl"
    path.write_text("garbage\n")
    assert read_rollout(path) is None


def test_compacted_history_replaces_earlier_items(tmp_path: Path) -> None:
    path = tmp_path / "rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000002.jsonl"
    writer = RolloutWriter(path)
    writer.append("session_meta", {"id": "x"})
    writer.append("response_item",
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "old"}]})
    summary = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "summary"}]}
    writer.append("compacted", {"replacement_history": [summary]})
    writer.append("response_item",
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "new"}]})
    writer.close()
    contents = read_rollout(path)
    assert contents is not None
    assert [i["content"][0]["text"] for i in contents.history] == ["summary", "new"]


def test_any_crash_point_reads_a_prefix(tmp_path: Path) -> None:
    """Cutting the file anywhere (a crash mid-write) yields a prefix of the history, never an error."""
    from hypothesis import given, settings, strategies as st

    full = tmp_path / "rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000003.jsonl"
    writer = RolloutWriter(full)
    writer.append("session_meta", {"id": "x"})
    for i in range(6):
        writer.append("response_item",
                      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"m{i}"}]})
    writer.close()
    data = full.read_bytes()
    expected = read_rollout(full).history  # type: ignore[union-attr]

    @settings(max_examples=60, deadline=None)
    @given(st.integers(min_value=0, max_value=len(data)))
    def check(cut: int) -> None:
        torn = tmp_path / "torn" / full.name
        torn.parent.mkdir(exist_ok=True)
        torn.write_bytes(data[:cut])
        contents = read_rollout(torn)
        if contents is not None:
            assert contents.history == expected[: len(contents.history)]

    check()


def test_disk_full_is_recorded_not_raised(tmp_path: Path) -> None:
    """A write that fails (ENOSPC via /dev/full) leaves an error to report; the turn goes on."""
    import anyio

    from rootstep.config import load_config
    from rootstep.core.thread import Thread, ThreadSettings
    from rootstep.tools import ThreadTools

    if not Path("/dev/full").exists():
        import pytest

        pytest.skip("no /dev/full")

    async def emit(_: object) -> None:
        return None

    thread = Thread(
        thread_id="0199a000-0000-7000-8000-000000000009", config=load_config(tmp_path),
        settings=ThreadSettings(model="m", model_provider_id="openai", cwd=str(tmp_path),
                                approval_policy="never", sandbox_mode="read-only"),
        created_at=0, emit=emit, tools=ThreadTools(), writer=RolloutWriter(Path("/dev/full")),
    )
    thread.record("response_item", {"type": "message"})
    assert thread.persist_error is not None and "No space left" in thread.persist_error
    anyio.run(thread.aclose)


def test_summary_agrees_with_full_read(tmp_path: Path) -> None:
    from rootstep.core.rollout import summarize_rollout

    path = tmp_path / "rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000004.jsonl"
    writer = RolloutWriter(path)
    writer.append("session_meta", {"id": "x", "model": "m1"})
    writer.append("turn_started", {"turn_id": "t1"})
    writer.append("thread_item", {"turn_id": "t1", "item": {"type": "agentMessage", "id": "a", "text": "userMessage"}})
    writer.append("thread_item", {"turn_id": "t1", "item": {"type": "userMessage", "id": "u",
                                                            "content": [{"type": "text", "text": "first words"}]}})
    writer.append("thread_name", {"name": "Named"})
    writer.append("settings", {"model": "m2"})
    writer.close()
    full, summary = read_rollout(path), summarize_rollout(path)
    assert full is not None and summary is not None
    assert (summary.preview, summary.name, summary.meta["model"]) == (full.preview, full.name, full.meta["model"])
    assert summary.preview == "first words" and summary.meta["model"] == "m2"
