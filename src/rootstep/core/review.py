"""Code review turns (``review/start``): what is reviewed, what the reviewer is asked, and how its
answer is shown.

The request texts and the rendering of the reviewer's JSON answer are what clients see (the
``enteredReviewMode`` / ``userMessage`` / ``exitedReviewMode`` items), so they follow codex 0.169
to the character. The reviewer's instructions are rootstep's own; they ask for the same JSON
shape, which :func:`render_review` turns into text.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, cast

NO_OUTPUT = "Reviewer failed to output a response."

REVIEW_INSTRUCTIONS = """# Code review

You review a change another engineer made. Find the problems the author would want to know
about before merging: bugs that change behaviour, security or data-loss risks, clear
performance regressions, and maintainability problems the change introduces. Leave out style
nits, speculation, and anything that was already wrong before the change.

Inspect the change yourself with the tools you have (for example `git diff`, `git show`,
reading files). For each problem, say why it is wrong, when it happens, and how bad it is, in
one short paragraph; quote at most three lines of code.

Priorities: 0 = must fix before anything else, 1 = should fix before merging, 2 = fix soon,
3 = minor. Start each title with the tag, e.g. "[P1] Off-by-one in pagination".

Answer with one JSON object and nothing else:
{
  "findings": [
    {
      "title": "<[Pn] short imperative title, at most 80 characters>",
      "body": "<why it is a problem, in markdown>",
      "confidence_score": <0.0 to 1.0>,
      "priority": <0 to 3>,
      "code_location": {
        "absolute_file_path": "<absolute path>",
        "line_range": {"start": <first line>, "end": <last line>}
      }
    }
  ],
  "overall_correctness": "patch is correct" | "patch is incorrect",
  "overall_explanation": "<one to three sentences>",
  "overall_confidence_score": <0.0 to 1.0>
}
Use an empty "findings" list when there is nothing worth flagging.
"""


class ReviewError(ValueError):
    """A review target that cannot be reviewed; the message is the client's to read."""


@dataclass(frozen=True)
class ReviewRequest:
    """``display``: the short label clients show; ``prompt``: what the reviewer is asked."""

    display: str
    prompt: str


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def merge_base(cwd: str, branch: str) -> str | None:
    """The merge base of HEAD and ``branch`` (its upstream when it has one), or None."""
    upstream = _git(cwd, "rev-parse", "--abbrev-ref", "--symbolic-full-name", f"{branch}@{{upstream}}")
    return _git(cwd, "merge-base", "HEAD", upstream or branch)


def review_request(target: dict[str, Any], cwd: str) -> ReviewRequest:
    """The label and prompt of a review target (``uncommittedChanges``, ``baseBranch``,
    ``commit``, ``custom``); git is asked only for a base branch's merge base."""
    kind = target.get("type")
    if kind == "uncommittedChanges":
        return ReviewRequest(
            "current changes",
            "Review the current code changes (staged, unstaged, and untracked files) and provide prioritized findings.",
        )
    if kind == "baseBranch":
        branch = str(target.get("branch") or "").strip()
        if not branch:
            raise ReviewError("branch must not be empty")
        base = merge_base(cwd, branch)
        if base is not None:
            prompt = (
                f"Review the code changes against the base branch '{branch}'. The merge base commit for this "
                f"comparison is {base}. Run `git diff {base}` to inspect the changes relative to {branch}. "
                "Provide prioritized, actionable findings."
            )
        else:
            prompt = (
                f"Review the code changes against the base branch '{branch}'. Start by finding the merge diff "
                f"between the current branch and {branch}'s upstream e.g. (`git merge-base HEAD \"$(git rev-parse "
                f"--abbrev-ref \"{branch}@{{upstream}}\")\"`), then run `git diff` against that SHA to see what "
                f"changes we would merge into the {branch} branch. Provide prioritized, actionable findings."
            )
        return ReviewRequest(f"changes against '{branch}'", prompt)
    if kind == "commit":
        sha = str(target.get("sha") or "").strip()
        if not sha:
            raise ReviewError("sha must not be empty")
        title = target.get("title")
        short = sha[:7]
        if isinstance(title, str) and title:
            return ReviewRequest(
                f"commit {short}: {title}",
                f'Review the code changes introduced by commit {sha} ("{title}"). '
                "Provide prioritized, actionable findings.",
            )
        return ReviewRequest(
            f"commit {short}",
            f"Review the code changes introduced by commit {sha}. Provide prioritized, actionable findings.",
        )
    if kind == "custom":
        instructions = str(target.get("instructions") or "")
        if not instructions.strip():
            raise ReviewError("instructions must not be empty")
        return ReviewRequest(instructions, instructions)
    raise ReviewError(f"Invalid request: unknown variant `{kind}`")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _line(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_finding(finding: Any) -> bool:
    if not isinstance(finding, dict):
        return False
    location = finding.get("code_location")
    lines = location.get("line_range") if isinstance(location, dict) else None
    return (
        isinstance(finding.get("title"), str) and isinstance(finding.get("body"), str)
        and _number(finding.get("confidence_score"))
        and isinstance(finding.get("priority"), int) and not isinstance(finding.get("priority"), bool)
        and isinstance(location, dict) and isinstance(location.get("absolute_file_path"), str)
        and isinstance(lines, dict) and _line(lines.get("start")) and _line(lines.get("end"))
    )


def _valid_output(data: Any) -> bool:
    """The whole answer shape, every field present and typed (anything else is prose)."""
    return (
        isinstance(data, dict) and isinstance(data.get("findings"), list)
        and all(_valid_finding(f) for f in data["findings"])
        and isinstance(data.get("overall_correctness"), str) and isinstance(data.get("overall_explanation"), str)
        and _number(data.get("overall_confidence_score"))
    )


def _parse(text: str) -> dict[str, Any] | None:
    """The reviewer's JSON answer, also when wrapped in prose (the outermost braces); None if
    neither the text nor that slice is a whole, well-typed answer."""
    start, end = text.find("{"), text.rfind("}")
    for candidate in (text, text[start : end + 1] if 0 <= start < end else None):
        if candidate is None:
            continue
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if _valid_output(data):
            return cast(dict[str, Any], data)
    return None


def _body_lines(body: str) -> list[str]:
    lines = [line.removesuffix("\r") for line in body.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _finding(finding: dict[str, Any]) -> str:
    location = finding["code_location"]
    lines = location["line_range"]
    head = f"- {finding['title']} \u2014 {location['absolute_file_path']}:{lines['start']}-{lines['end']}"
    return "\n".join([head, *(f"  {line}" for line in _body_lines(finding["body"]))])


def render_review(text: str | None) -> str:
    """The reviewer's answer as clients show it (``exitedReviewMode.review`` and the agent
    message): the explanation, then the findings; prose that is not a whole answer as is."""
    data = _parse(text or "")
    explanation = (data["overall_explanation"] if data is not None else text or "").strip()
    findings = data["findings"] if data is not None else []
    parts = [explanation] if explanation else []
    if findings:
        header = "Review comment:" if len(findings) == 1 else "Full review comments:"
        parts.append(header + "\n\n" + "\n\n".join(_finding(f) for f in findings))
    return "\n\n".join(parts) if parts else NO_OUTPUT


def parent_history(display: str, rendered: str) -> list[dict[str, Any]]:
    """What the reviewed thread's model remembers of the review (the review itself ran apart)."""
    note = f"The user ran a code review ({display}). The reviewer reported:\n\n{rendered}"
    return [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": note}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": rendered}]},
    ]
