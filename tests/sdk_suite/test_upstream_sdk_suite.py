"""The official Python SDK's own test suite (``upstream/``, see ``upstream/NOTE.md``) against
``rootstep app-server``: every test that passes against ``codex app-server`` 0.169 passes.

``reference_outcomes.json`` is the suite's outcome against 0.169 (regenerate it with
``SDK_SUITE_SERVER=reference python -m pytest -c tests/sdk_suite/upstream/pytest.ini
--rootdir tests/sdk_suite/upstream --junitxml=...``). The tests 0.169 fails are not run (each
has its reason in the file): three app-server tests that 0.169 fails as well (the goal engine's
automatic continuation, a usage field the suite predates, a steer race), and SDK-internal tests
of the Codex repository's build files or of another SDK version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import descendants

pytestmark = pytest.mark.timeout(900)

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "upstream"


def outcomes(junit: Path) -> dict[str, str]:
    """``module::test`` → passed | failed | skipped, from a JUnit XML report. Pure."""
    out: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').removeprefix('tests.')}::{case.get('name')}"
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                kind = "failed"
            elif child.tag == "skipped" and kind != "failed":
                kind = "skipped"
        out[name] = kind
    return out


def test_upstream_sdk_suite_passes_what_0169_passes(tmp_path: Path) -> None:
    pytest.importorskip("openai_codex")
    baseline = json.loads((HERE / "reference_outcomes.json").read_text())
    known = baseline["known_failures"]
    expected = {name: kind for name, kind in baseline["outcomes"].items() if name not in known}
    report = tmp_path / "sdk-suite.xml"
    command = [sys.executable, "-m", "pytest", "-c", str(UPSTREAM / "pytest.ini"), "--rootdir", str(UPSTREAM),
               "-q", f"--junitxml={report}", f"--basetemp={tmp_path / 'basetemp'}"]
    for name in known:
        module, test = name.split("::", 1)
        command += ["--deselect", f"tests/{module}.py::{test}"]
    env = {**os.environ, "SDK_SUITE_SERVER": os.environ.get("SDK_SUITE_SERVER", "rootstep")}
    before = descendants()
    done = subprocess.run(command, cwd=UPSTREAM, env=env, capture_output=True, text=True, timeout=850)
    got = outcomes(report)
    assert got == expected, (
        "\n".join(f"{n}: {got.get(n)} (0.169: {expected.get(n)})" for n in sorted(set(got) | set(expected))
                  if got.get(n) != expected.get(n))
        + "\n" + done.stdout[-6000:]
    )
    assert done.returncode == 0, done.stdout[-6000:]
    assert sum(kind == "passed" for kind in got.values()) == sum(
        kind == "passed" for kind in baseline["outcomes"].values()
    )
    assert descendants() - before == set()
