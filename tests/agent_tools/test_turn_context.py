"""When the model is told about its context again, and how (pure: rootstep.agent_tools.turn_context,
project_docs rendering)."""

from __future__ import annotations

from pathlib import Path

import anyio

from rootstep.agent_tools.project_docs import DocsSettings, ProjectDoc, git_root, project_docs, render_instructions
from rootstep.agent_tools.turn_context import EnvironmentFacts, TurnContext, initial_items, update_items
from rootstep.environments.local import LocalEnvironment


def _context(*, docs: list[ProjectDoc] = (),
             envs: tuple[EnvironmentFacts, ...] = (EnvironmentFacts("local", "/w", "bash"),),
             date: str = "2026-01-01",
             permissions: str = "<permissions instructions>\nP\n</permissions instructions>") -> TurnContext:
    return TurnContext(instructions=render_instructions(None, list(docs)), permissions=permissions, environments=envs,
                       current_date=date, timezone="Etc/UTC", filesystem="<filesystem/>")


def _texts(items: list[dict]) -> list[tuple[str, list[str]]]:
    return [(i["role"], [c["text"] for c in i["content"]]) for i in items]


def test_unchanged_context_is_not_told_again_and_changes_are_told_alone() -> None:
    first = _context(docs=[ProjectDoc("local", "/w", "rules\n")])
    assert [role for role, _ in _texts(initial_items(first))] == ["developer", "user"]
    assert update_items(first, first.snapshot()) == []
    # a new day: the environment again, without the cwd (it did not change), as 0.169
    later = _context(docs=[ProjectDoc("local", "/w", "rules\n")], date="2026-01-02")
    [(role, [text])] = _texts(update_items(later, first.snapshot()))
    assert role == "user" and text == ("<environment_context>\n  <current_date>2026-01-02</current_date>\n"
                                       "  <timezone>Etc/UTC</timezone>\n  <filesystem/>\n</environment_context>")
    # instructions gone: withdrawn
    gone = _context(date="2026-01-02")
    [(role, [text])] = _texts(update_items(gone, later.snapshot()))
    assert text == ("# AGENTS.md instructions\n\n<INSTRUCTIONS>\nThe previously provided AGENTS.md instructions no "
                    "longer apply.\n</INSTRUCTIONS>")


def test_several_environments_say_which_is_primary_and_label_their_instructions() -> None:
    envs = (EnvironmentFacts("local", "/w", "bash"), EnvironmentFacts("exec-1", "/r", "zsh"))
    context = _context(envs=envs, docs=[ProjectDoc("local", "/w", "a\n"), ProjectDoc("exec-1", "/r", "b\n")])
    [(_, [permissions]), (_, [instructions, environment])] = _texts(initial_items(context))
    assert instructions == ("# AGENTS.md instructions\n\n<INSTRUCTIONS>\nfor `local` with root /w\n\na\n\n\n"
                            "for `exec-1` with root /r\n\nb\n\n</INSTRUCTIONS>")
    assert ('    <environment id="exec-1" primary="false">\n      <cwd>/r</cwd>\n      <shell>zsh</shell>\n'
            '    </environment>\n    <environment id="local" primary="true">') in environment
    assert environment.count("</environments>") == 1


def test_discovery_walks_from_the_git_root_to_the_cwd(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "AGENTS.md").write_text("root\n")
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "AGENTS.override.md").write_text("override\n")
    (tmp_path / "repo" / "a" / "AGENTS.md").write_text("shadowed\n")
    (tmp_path / "AGENTS.md").write_text("above the root\n")
    cwd = str(tmp_path / "repo" / "a" / "b")

    async def run() -> tuple[list[ProjectDoc], str | None, list[ProjectDoc]]:
        env = LocalEnvironment()
        docs = await project_docs(env, "local", cwd, DocsSettings(), [DocsSettings().max_bytes])
        small = await project_docs(env, "local", cwd, DocsSettings(), [3])
        return docs, await git_root(env, cwd), small

    docs, root, small = anyio.run(run)
    assert [d.contents for d in docs] == ["root\n", "override\n"] and root == str(tmp_path / "repo")
    assert [d.contents for d in small] == ["roo"]  # the byte budget cuts the text
