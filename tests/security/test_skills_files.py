"""``skills/list`` over a cloned repository whose skill files are hostile (issue 16, item 1).

A repository can commit a symlink to ``/dev/zero``, a FIFO or a sparse file of gigabytes. codex
0.169 (checked against the binary) lists a skill whose ``agents/openai.yaml`` is such a file
without an interface, skips a ``SKILL.md`` that is not a regular file, and reports one over its
read limit as ``failed to read file: file is too large to read: limit is 536870912 bytes``.
The server under attack runs under a memory ceiling (``conftest.memory_capped``).
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.app_server import AppServerProcess
from tests.security.conftest import link_to, make_fifo, make_sparse


def skill(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "agents").mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: the {name} skill\n---\nbody\n")
    return folder


def hostile_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    skills = repo / ".agents" / "skills"
    link_to(skill(skills, "yaml-zero") / "agents" / "openai.yaml", "/dev/zero")
    make_fifo(skill(skills, "yaml-fifo") / "agents" / "openai.yaml")
    make_sparse(skill(skills, "yaml-sparse") / "agents" / "openai.yaml", 4 << 30,
                b"interface:\n  display_name: Sparse\n")
    link_to(skills / "md-zero" / "SKILL.md", "/dev/zero")
    make_fifo(skills / "md-fifo" / "SKILL.md")
    make_sparse(skills / "md-sparse" / "SKILL.md", 5 << 30, b"---\nname: md-sparse\ndescription: d\n---\n")
    (skill(skills, "fine") / "agents" / "openai.yaml").write_text("interface:\n  display_name: Fine\n")
    return repo


def test_hostile_skill_files_are_bounded_and_the_server_keeps_serving(app: AppServerProcess, tmp_path: Path) -> None:
    repo = hostile_repo(tmp_path)
    result = app.call("skills/list", {"cwds": [str(repo)], "forceReload": True}, timeout=60)
    [entry] = result["data"]
    listed = {s["name"]: s for s in entry["skills"] if s["scope"] == "repo"}
    assert set(listed) == {"yaml-zero", "yaml-fifo", "yaml-sparse", "fine"}
    assert listed["fine"]["interface"]["displayName"] == "Fine"
    for name in ("yaml-zero", "yaml-fifo", "yaml-sparse"):  # the metadata is ignored, the skill stays
        assert listed[name].get("interface") is None
    errors = {Path(e["path"]).parent.name: e["message"] for e in entry["errors"]}
    assert errors == {"md-sparse": "failed to read file: file is too large to read: limit is 536870912 bytes"}
    # Still serving: the same scan again, and another request.
    again = app.call("skills/list", {"cwds": [str(repo)], "forceReload": True}, timeout=60)
    assert again["data"][0]["errors"] == entry["errors"]
    assert app.call("thread/start", {})["thread"]["id"]
