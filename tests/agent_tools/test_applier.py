"""The applier end to end on real filesystems: local, ``rootstep exec-server`` and the
reference ``codex exec-server`` (which has no ``fs/rename``: in-place writes with rollback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from rootstep.agent_tools.apply_patch import (
    PatchVerificationError,
    PatchWriteError,
    apply_patch_text,
    commit_plan,
    verify_patch,
)
from rootstep.agent_tools.turn_diff import TurnDiffTracker
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.remote import RemoteEnvironment
from tests.conftest import reference_codex_path

GOOD = """*** Begin Patch
*** Add File: sub/new.txt
+hello
+world
*** Update File: upd.txt
@@
 alpha
-beta
+BETA
 gamma
*** Delete File: del.txt
*** Update File: mv.txt
*** Move to: moved/mv2.txt
@@
 one
-two
+TWO
*** End Patch"""


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(root.rglob("*"))}


def seed(root: Path) -> None:
    (root / "upd.txt").write_text("alpha\nbeta\ngamma\n")
    (root / "del.txt").write_text("bye\n")
    (root / "mv.txt").write_text("one\ntwo\n")
    os.chmod(root / "upd.txt", 0o755)


@asynccontextmanager
async def environment(kind: str):
    if kind == "local":
        yield LocalEnvironment()
    elif kind == "rootstep":
        argv = ["-m", "rootstep", "exec-server", "--listen", "stdio"]
        async with RemoteEnvironment.connect_stdio("exec", sys.executable, argv) as env:
            yield env
    else:
        ref = reference_codex_path()
        if ref is None:
            pytest.skip("reference codex binary absent")
        async with RemoteEnvironment.connect_stdio("exec", str(ref), ["exec-server", "--listen", "stdio"]) as env:
            yield env


KINDS = ["local", "rootstep", "reference"]


@pytest.mark.parametrize("kind", KINDS)
def test_add_update_move_delete(kind, tmp_path):
    seed(tmp_path)

    async def main():
        async with environment(kind) as env:
            return await apply_patch_text(env, GOOD, str(tmp_path))

    plan = anyio.run(main)
    assert tree(tmp_path) == {
        "moved": b"<dir>", "moved/mv2.txt": b"one\nTWO\n", "sub": b"<dir>", "sub/new.txt": b"hello\nworld\n",
        "upd.txt": b"alpha\nBETA\ngamma\n",
    }
    assert os.stat(tmp_path / "upd.txt").st_mode & 0o777 == 0o755  # an updated file keeps its mode
    assert plan.summary() == (
        "Success. Updated the following files:\nA sub/new.txt\nM upd.txt\nM moved/mv2.txt\nD del.txt\n")


@pytest.mark.parametrize("kind", KINDS)
def test_a_patch_that_does_not_apply_changes_nothing(kind, tmp_path):
    seed(tmp_path)
    before = tree(tmp_path)
    bad = GOOD.replace("-two\n+TWO", "-three\n+THREE")

    async def main():
        async with environment(kind) as env:
            with pytest.raises(PatchVerificationError, match="Failed to find expected lines"):
                await apply_patch_text(env, bad, str(tmp_path))

    anyio.run(main)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_write_failure_rolls_everything_back(kind, tmp_path):
    """The last write cannot happen (its parent is a file): earlier ones are undone."""
    seed(tmp_path)
    before = tree(tmp_path)
    patch = GOOD.replace("*** End Patch", "*** Add File: upd.txt/child.txt\n+x\n*** End Patch")

    async def main():
        async with environment(kind) as env:
            plan = await verify_patch(env, patch, str(tmp_path))
            with pytest.raises(PatchWriteError) as err:
                await commit_plan(env, plan)
            return err.value

    error = anyio.run(main)
    assert str(error).startswith(("Failed to create parent directories for ", "Failed to write file "))
    assert error.rolled_back
    assert tree(tmp_path) == before


def test_turn_diff_equals_git_diff(tmp_path):
    """The aggregated diff is ``git diff --full-index`` of the same change, with 0.169's two
    differences: no mode after the index of a modified file, no function context after ``@@``."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    seed(tmp_path)
    os.chmod(tmp_path / "upd.txt", 0o644)
    (tmp_path / "big.py").write_text("".join(f"line {i}\n" for i in range(40)) + "tail")
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
                   check=True)
    patch = ("*** Begin Patch\n*** Add File: sub/new.txt\n+hello\n*** Delete File: del.txt\n"
             "*** Update File: upd.txt\n@@\n-beta\n+BETA\n"
             "*** Update File: big.py\n@@\n line 2\n-line 3\n+LINE 3\n@@\n line 30\n+inserted\n line 31\n"
             "*** End of File\n*** End Patch")
    patch = patch.replace("@@\n line 30\n+inserted\n line 31\n*** End of File\n", "@@\n line 30\n+inserted\n line 31\n")
    tracker = TurnDiffTracker({"local": str(tmp_path)})

    async def main():
        plan = await apply_patch_text(LocalEnvironment(), patch, str(tmp_path))
        tracker.track("local", plan.changes)

    anyio.run(main)
    untracked = subprocess.run(["git", "-C", str(tmp_path), "ls-files", "--others"],
                               check=True, capture_output=True, text=True).stdout.split()
    subprocess.run(["git", "-C", str(tmp_path), "add", "--intent-to-add", *untracked], check=True)
    git = subprocess.run(["git", "-C", str(tmp_path), "diff", "--full-index", "--no-renames", "--no-color",
                          "--no-ext-diff"],
                         check=True, capture_output=True, text=True).stdout
    git = "\n".join(line[: -len(" 100644")] if line.startswith("index ") and line.endswith(" 100644") else line
                    for line in git.split("\n"))
    git = re.sub(r"^(@@ -\S+ \+\S+ @@).*$", r"\1", git, flags=re.M)
    assert tracker.unified_diff() == git


# --- property: generated file trees and patches ----------------------------------------------

from hypothesis import (  # noqa: E402
    HealthCheck,
    given,
    settings,
    strategies as st,  # noqa: E402
)

from rootstep.agent_tools.apply_patch import AddFile, DeleteFile, Patch, UpdateChunk, UpdateFile, render_patch  # noqa: E402

_names = st.sampled_from(["a.txt", "b.txt", "d/c.txt", "d/e/f.txt"])
_lines = st.lists(st.sampled_from(["x", "y", "z", "w", ""]), min_size=1, max_size=6)


@st.composite
def tree_and_patch(draw):
    files = draw(st.dictionaries(_names, _lines.map(lambda ls: "\n".join(ls) + "\n"), min_size=1, max_size=4))
    existing = sorted(files)
    hunks = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["add", "delete", "update", "move"]))
        target = draw(st.sampled_from(existing))
        if kind == "add":
            path = draw(st.sampled_from(["new.txt", "n/new.txt", target]))
            hunks.append(AddFile(path, "".join(line + "\n" for line in draw(_lines))))
        elif kind == "delete":
            hunks.append(DeleteFile(draw(st.sampled_from([*existing, "missing.txt"]))))
        else:
            old = draw(st.lists(st.sampled_from(["x", "y", "z", "q"]), min_size=1, max_size=2))
            new = draw(st.lists(st.sampled_from(["X", "Y"]), max_size=2))
            move = draw(st.sampled_from(["moved/m.txt", None])) if kind == "move" else None
            hunks.append(UpdateFile(target, move, (UpdateChunk(None, tuple(old), tuple(new)),)))
    return files, render_patch(Patch(tuple(hunks)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree_and_patch())
def test_generated_patches_apply_fully_or_not_at_all(tmp_path_factory, case):
    files, patch = case
    root = tmp_path_factory.mktemp("tree")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    before = tree(root)

    async def main():
        env = LocalEnvironment()
        try:
            plan = await verify_patch(env, patch, str(root))
        except PatchVerificationError:
            return None
        await commit_plan(env, plan)
        return plan

    plan = anyio.run(main)
    after = tree(root)
    if plan is None:
        assert after == before  # a patch that does not apply changes nothing
        return
    for path, content in plan.final.items():  # the files are what the pure plan said
        rel = os.path.relpath(path, root)
        assert after.get(rel) == (content.encode() if content is not None else None)
    assert not [name for name in after if ".rootstep-patch-" in name]
