"""The pure planner: 0.169's matching rules and messages; a patch that does not apply changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from rootstep.agent_tools.apply_patch import (
    PatchVerificationError,
    ReadFailure,
    parse_patch,
    paths_to_read,
    plan_patch,
)
from rootstep.agent_tools.apply_patch.seek import seek_sequence
from rootstep.agent_tools.file_changes import file_update_changes
from rootstep.agent_tools.turn_diff import TurnDiffTracker

CWD = "/w"
MISSING = ReadFailure("No such file or directory (os error 2)", not_found=True)


def plan(text, files):
    patch = parse_patch(text)
    reads = {p: files.get(p, MISSING) for p in paths_to_read(patch, CWD)}
    return plan_patch(patch, CWD, reads)


def test_good_patch_matches_the_reference_item_and_turn_diff(captured):
    good = captured["good"]
    files = {f"{CWD}/{name}": text for name, text in good["files"].items()}
    result = plan(good["patch"], files)
    assert result.summary() == good["output"].split("Output:\n", 1)[1]
    expected = [{**c, "path": c["path"].replace("{cwd}", CWD), "diff": c["diff"].replace("{cwd}", CWD),
                 "kind": {k: (v.replace("{cwd}", CWD) if isinstance(v, str) else v) for k, v in c["kind"].items()}}
                for c in good["item_changes"]]
    assert file_update_changes(result) == expected
    tracker = TurnDiffTracker({"local": CWD})
    tracker.track("local", result.changes)
    assert tracker.unified_diff() == good["turn_diff"]


@pytest.mark.parametrize("case", ["ctx_missing", "ctx_header_missing", "delete_missing", "update_missing",
                                  "delete_dir", "update_dir", "partial"])
def test_verification_errors_use_the_reference_words(captured, case):
    sample = captured["patch_outputs"][case]
    files = {f"{CWD}/upd.txt": "alpha\nBETA\ngamma\n", f"{CWD}/sub": ReadFailure(f"path `{CWD}/sub` is not a file")}
    with pytest.raises(PatchVerificationError) as err:
        plan(sample["patch"].replace("{cwd}", CWD), files)
    assert f"apply_patch verification failed: {err.value}" == sample["output"].replace("{cwd}", CWD)


def test_matching_is_lenient_in_0169_order():
    lines = ["a  ", "    b", "“quoted” — dash"]
    assert seek_sequence(lines, ["a"], 0, False) == 0
    assert seek_sequence(lines, ["b"], 0, False) == 1
    assert seek_sequence(lines, ['"quoted" - dash'], 0, False) == 2
    assert seek_sequence(lines, ["zzz"], 0, False) is None
    assert seek_sequence(["x", "y", "x"], ["x"], 0, True) == 2


def test_update_keeps_lines_and_adds_final_newline():
    result = plan("*** Begin Patch\n*** Update File: f\n@@\n-b\n+B\n*** End Patch", {f"{CWD}/f": "a\nb"})
    assert result.final[f"{CWD}/f"] == "a\nB\n"


def test_pure_addition_appends_at_end():
    result = plan("*** Begin Patch\n*** Update File: f\n@@\n+z\n*** End Patch", {f"{CWD}/f": "a\n"})
    assert result.final[f"{CWD}/f"] == "a\nz\n"


def test_context_header_narrows_the_search():
    text = "*** Begin Patch\n*** Update File: f\n@@ def two():\n-    x\n+    y\n*** End Patch"
    result = plan(text, {f"{CWD}/f": "def one():\n    x\ndef two():\n    x\n"})
    assert result.final[f"{CWD}/f"] == "def one():\n    x\ndef two():\n    y\n"


def test_hunks_apply_in_order_on_the_same_file():
    text = ("*** Begin Patch\n*** Update File: f\n@@\n-a\n+b\n*** Update File: f\n@@\n-b\n+c\n*** End Patch")
    assert plan(text, {f"{CWD}/f": "a\n"}).final[f"{CWD}/f"] == "c\n"


def test_move_then_summary_lists_destination():
    result = plan("*** Begin Patch\n*** Update File: a\n*** Move to: b/a\n@@\n-1\n+2\n*** End Patch",
                  {f"{CWD}/a": "1\n"})
    assert result.writes() == {f"{CWD}/b/a": "2\n"}
    assert result.removals() == [f"{CWD}/a"]
    assert result.summary().splitlines()[1:] == ["M b/a"]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]),
                    st.lists(st.sampled_from(["x", "y", "z", ""]), max_size=5).map("\n".join), max_size=3),
    st.lists(st.sampled_from(["x", "y", "q"]), min_size=1, max_size=3),
    st.sampled_from(["a", "b", "c"]),
)
def test_plan_either_fits_or_raises_without_partial_state(files, old_lines, target):
    """A plan is all or nothing: it raises, or each old line really was in the file."""
    tree = {f"{CWD}/{k}": v for k, v in files.items()}
    body = "".join(f"-{line}\n" for line in old_lines) + "+NEW\n"
    text = f"*** Begin Patch\n*** Add File: new.txt\n+n\n*** Update File: {target}\n@@\n{body}*** End Patch"
    try:
        result = plan(text, tree)
    except PatchVerificationError:
        return
    assert "NEW" in result.final[f"{CWD}/{target}"]
    assert result.final[f"{CWD}/new.txt"] == "n\n"
