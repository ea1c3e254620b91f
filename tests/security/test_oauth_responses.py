"""OAuth responses are read with a byte cap (issue 16, item 4).

Chunked discovery metadata (the 1 MiB cap applied only with a ``Content-Length``), the
code-exchange token response and the refresh token response each took the app-server past
4 GiB. Each flow runs against the real test authorization server made hostile (an endless
chunked JSON body, ``OAuthTestServer.endless_paths``), in a memory-capped subprocess
(``oauth_attacks.py``): it must end with a clear failure, and the refresh token survives for a
well-behaved retry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.security.conftest import memory_capped

pytestmark = pytest.mark.timeout(120)
TOO_LARGE = "exceeds 1048576 bytes"


def attack(scenario: str) -> dict:
    argv = memory_capped([sys.executable, "-m", "tests.security.oauth_attacks", scenario])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_endless_discovery_metadata_is_cut_off() -> None:
    assert attack("discovery") == {"found": False}


def test_an_endless_registration_answer_fails_the_login() -> None:
    error = attack("registration")["error"]
    assert error is not None and TOO_LARGE in error and "/register" in error


def test_an_endless_token_answer_fails_the_code_exchange() -> None:
    outcome = attack("code_exchange")
    assert outcome["success"] is False
    assert outcome["error"].startswith("failed to handle OAuth callback: ") and TOO_LARGE in outcome["error"]


def test_an_endless_refresh_answer_fails_the_refresh_only() -> None:
    outcome = attack("refresh")
    assert outcome["refused"] is True
    assert outcome["last_error"].startswith("token refresh failed: ") and TOO_LARGE in outcome["last_error"]
    assert outcome["echoed"] == "ECHOING: recovered"
