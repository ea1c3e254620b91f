"""Bad request params are refused in serde's words, as 0.169 refuses them: the same code and
text for each case (differential), a bad ``approvalPolicy`` is refused rather than kept, and
nothing is coerced ("yes" is not a boolean)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rootstep.app_server.methods import describe_validation_error
from rootstep.jsonrpc.serde_words import rust_debug
from rootstep.protocol.thread import ThreadStartParams
from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.differential import run_both

GRANULAR = {"sandbox_approval": True, "rules": True, "mcp_elicitations": False}
CASES: list[tuple[str, dict[str, Any]]] = [
    ("thread/start", {"approvalPolicy": "on-failure"}),
    ("thread/start", {"approvalPolicy": 5}),
    ("thread/start", {"approvalPolicy": [1]}),
    ("thread/start", {"approvalPolicy": True}),
    ("thread/start", {"approvalPolicy": {"granular": {}}}),
    ("thread/start", {"approvalPolicy": {"granular": {"sandbox_approval": True}}}),
    ("thread/start", {"approvalPolicy": {"granular": {**GRANULAR, "rules": "x"}}}),
    ("thread/start", {"approvalPolicy": {"granular": 5}}),
    ("thread/start", {"approvalPolicy": {"other": 1}}),
    ("thread/start", {"approvalPolicy": {"granular": {**GRANULAR, "extra": 1}}}),
    ("thread/start", {"approvalPolicy": {"never": {}}}),
    ("thread/start", {"sandbox": "none"}),
    ("thread/start", {"model": 5}),
    ("thread/start", {"ephemeral": "yes"}),  # strict, as serde: no "yes" → true
    ("thread/start", {"ephemeral": 1}),
    ("skills/list", {"cwds": 'a"b\té\u00a0\x1b'}),
    ("turn/start", {"threadId": "x", "input": "nope"}),
    ("turn/start", {"threadId": "x", "input": [], "approvalPolicy": "bad"}),
    ("thread/settings/update", {"threadId": "x", "approvalPolicy": "sometimes"}),
]


def _answers(command: list[str], home: Path, _model: Any) -> list[str]:
    out = []
    with AppServerProcess(home, command=command, validate=False) as app:
        app.initialize()
        for method, params in CASES:
            try:
                result = app.call(method, params)
                out.append(f"{method}: ok" + (f" {result['approvalPolicy']}" if "approvalPolicy" in result else ""))
            except Exception as exc:  # noqa: BLE001 - the RpcError's text is what is compared
                out.append(f"{method}: {exc}")
    return out


def test_param_errors_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _answers)
    for case, theirs, mine in zip(CASES, reference, ours, strict=True):
        assert mine == theirs, f"{case}:\n  ours: {mine}\n  ref:  {theirs}"


@pytest.mark.parametrize(("policy", "message"), [
    ("on-failure", "unknown variant `on-failure`, expected one of `untrusted`, `on-request`, `granular`, `never`"),
    ({"granular": {"sandbox_approval": True, "rules": True}}, "missing field `mcp_elicitations`"),
    (3.5, "invalid type: floating point `3.5`, expected string or map"),
])
def test_a_bad_approval_policy_is_refused(policy: Any, message: str) -> None:
    with pytest.raises(Exception) as refused:
        ThreadStartParams.model_validate({"approvalPolicy": policy})
    assert describe_validation_error(refused.value) == f"Invalid request: {message}"


def test_a_unit_variant_sent_as_a_map_means_its_name() -> None:
    assert ThreadStartParams.model_validate({"approvalPolicy": {"never": {}}}).approval_policy == "never"


def test_strings_are_quoted_as_rust_debug_prints_them() -> None:
    assert rust_debug('a"b\té\u00a0\x1b\x00\\') == '"a\\"b\\té\\u{a0}\\u{1b}\\0\\\\"'
