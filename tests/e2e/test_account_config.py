"""account/* and config/* as the TUI and the SDK use them, checked against codex 0.169.

Differential where the reference can run offline: the same scenario against ``codex
app-server`` and rootstep (``tests/fixtures/differential.py``), every message schema-checked.
ChatGPT token hand-over is rootstep-only: the reference then asks chatgpt.com for the
workspace's routing and fails offline.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess, RpcError, checked_app_server
from tests.fixtures.differential import run_both
from tests.fixtures.mock_model import MockModel, assistant_text, write_config

pytestmark = pytest.mark.timeout(120)

NO_KEY = {"OPENAI_API_KEY": ""}


def _call(app: AppServerProcess, method: str, params: Any = None) -> Any:
    try:
        return app.call(method, params)
    except RpcError as exc:
        return ("error", exc.code, exc.message)


def _account_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    model.queue(assistant_text("signed in"))
    out: dict[str, Any] = {}
    with AppServerProcess(home, command=command, env=NO_KEY) as app:
        app.initialize()
        out["before"] = _call(app, "account/read", {})
        out["limits_signed_out"] = _call(app, "account/rateLimits/read")
        out["login"] = _call(app, "account/login/start", {"type": "apiKey", "apiKey": "sk-test-key"})
        auth = home / "auth.json"
        out["auth_file"] = json.loads(auth.read_text())
        out["auth_mode"] = stat.S_IMODE(auth.stat().st_mode)
        out["after"] = _call(app, "account/read", {"refreshToken": False})
        thread = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread, "who am I?")
        out["authorization"] = model.requests[-1].headers.get("authorization")
        out["limits_api_key"] = _call(app, "account/rateLimits/read")
        out["cancel"] = _call(app, "account/login/cancel", {"loginId": "nope"})
        out["logout"] = _call(app, "account/logout")
        out["auth_file_after_logout"] = auth.exists()
        out["signed_out"] = _call(app, "account/read", {})
        out["notifications"] = [(m["method"], m["params"]) for m in app.notifications()
                                if m["method"] in ("account/login/completed", "account/updated")]
        app.assert_schema_clean()
    return out


def test_api_key_login_read_and_logout_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _account_scenario, extra="requires_openai_auth = true\n")
    assert ours == reference
    assert ours["authorization"] == "Bearer sk-test-key"
    assert ours["after"]["account"] == {"type": "apiKey"} and ours["auth_mode"] == 0o600


def test_a_provider_without_openai_auth_reports_no_account(reference_codex: Path, tmp_path: Path) -> None:
    def scenario(command: list[str], home: Path, model: MockModel) -> Any:
        with AppServerProcess(home, command=command, env=NO_KEY) as app:
            app.initialize()
            result = app.call("account/read", {})
            app.assert_schema_clean()
        return result

    reference, ours = run_both(reference_codex, tmp_path, scenario)
    assert ours == reference == {"account": None, "userId": None, "requiresOpenaiAuth": False,
                                 "workspaceRouting": None}


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_chatgpt_tokens_from_a_host_app_authenticate_model_requests(tmp_path: Path, model: MockModel) -> None:
    home = tmp_path / "home"
    write_config(home, model, extra="requires_openai_auth = true\n")
    token = _jwt({"email": "dev@example.com",
                  "https://api.openai.com/auth": {"chatgpt_account_id": "ws-1", "chatgpt_plan_type": "pro"}})
    model.queue(assistant_text("hi"))
    with checked_app_server(home, env=NO_KEY) as app:
        login = app.call("account/login/start", {"type": "chatgptAuthTokens", "accessToken": token,
                                                 "chatgptAccountId": "ws-1"})
        assert login == {"type": "chatgptAuthTokens"}
        assert app.call("account/read", {})["account"] == {"type": "chatgpt", "email": "dev@example.com",
                                                           "planType": "pro"}
        assert not (home / "auth.json").exists()  # host-app tokens live in memory only
        # while a host app manages the account, other logins are refused
        refused = app.call_error("account/login/start", {"type": "apiKey", "apiKey": "sk-x"})
        assert refused.message.startswith("External auth is active.")
        thread = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread, "hello")
        headers = model.requests[-1].headers
        assert headers["authorization"] == f"Bearer {token}" and headers["chatgpt-account-id"] == "ws-1"
        updated = app.wait_notification("account/updated")
        assert updated["params"] == {"authMode": "chatgptAuthTokens", "planType": "pro"}


def test_an_auth_json_written_by_codex_login_is_read(tmp_path: Path, model: MockModel) -> None:
    home = tmp_path / "home"
    write_config(home, model, extra="requires_openai_auth = true\n")
    (home / "auth.json").write_text(json.dumps({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": {
        "id_token": _jwt({"email": "me@example.com", "https://api.openai.com/auth": {"chatgpt_plan_type": "plus"}}),
        "access_token": "at-1", "refresh_token": "rt-1", "account_id": "acc-9"},
        "last_refresh": "2026-01-01T00:00:00Z"}))
    model.queue(assistant_text("hi"))
    with checked_app_server(home, env=NO_KEY) as app:
        assert app.call("account/read", {})["account"] == {"type": "chatgpt", "email": "me@example.com",
                                                           "planType": "plus"}
        thread = app.call("thread/start", {})["thread"]["id"]
        app.run_turn(thread, "hello")
        assert model.requests[-1].headers["authorization"] == "Bearer at-1"


CONFIG_EXTRA = "# keep me\n[mcp_servers.echo]\ncommand = \"true\"\nenabled = false  # and me\n"


def _config_scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
    path = home / "config.toml"
    path.chmod(0o640)
    out: dict[str, Any] = {}
    with AppServerProcess(home, command=command) as app:
        app.initialize()
        read = app.call("config/read", {"includeLayers": True})
        user = next(layer for layer in read["layers"] if layer["name"]["type"] == "user")
        out["user_layer"] = user
        out["config"] = {k: read["config"].get(k) for k in ("model", "model_provider", "approval_policy",
                                                            "sandbox_mode", "model_reasoning_effort")}
        out["origin_of_model"] = read["origins"]["model"]
        out["requirements"] = app.call("configRequirements/read")
        out["write"] = _call(app, "config/value/write", {"keyPath": "model", "value": "other-model",
                                                         "mergeStrategy": "replace",
                                                         "expectedVersion": user["version"]})
        out["batch"] = _call(app, "config/batchWrite", {"edits": [
            {"keyPath": "model_reasoning_effort", "value": "high", "mergeStrategy": "replace"},
            {"keyPath": "mcp_servers.echo", "value": {"enabled": True, "args": ["-x"]}, "mergeStrategy": "upsert"},
            {"keyPath": "features.removed", "value": None, "mergeStrategy": "replace"},
        ], "reloadUserConfig": True})
        out["stale"] = _call(app, "config/value/write", {"keyPath": "model", "value": "x", "mergeStrategy": "replace",
                                                         "expectedVersion": user["version"]})
        out["bad_type"] = _call(app, "config/value/write", {"keyPath": "model", "value": 3, "mergeStrategy": "replace"})
        again = app.call("config/read", {"includeLayers": True})
        out["read_back"] = again["config"]["model_reasoning_effort"]
        layer = next(layer for layer in again["layers"] if layer["name"]["type"] == "user")
        # A write reports the version a later read gives (a client's next expectedVersion).
        out["version_consistent"] = isinstance(out["batch"], dict) and out["batch"]["version"] == layer["version"]
        out["file"] = path.read_text()
        out["mode"] = stat.S_IMODE(path.stat().st_mode)
        app.assert_schema_clean()
    # Versions hash the layer's content, which holds this side's model URL: compared by shape.
    for key in ("write", "batch"):
        if isinstance(out[key], dict):
            out[key]["filePath"] = os.path.relpath(out[key]["filePath"], home)
            out[key]["version"] = out[key]["version"].startswith("sha256:")
    out["origin_of_model"]["version"] = out["origin_of_model"]["version"].startswith("sha256:")
    out["user_layer"]["name"]["file"] = os.path.relpath(out["user_layer"]["name"]["file"], home)
    out["origin_of_model"]["name"]["file"] = os.path.relpath(out["origin_of_model"]["name"]["file"], home)
    out["file"] = out["file"].replace(model.base_url, "<model>")
    out["user_layer"]["config"]["model_providers"]["mock_provider"]["base_url"] = "<model>"
    return out


def test_config_read_and_writes_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    reference, ours = run_both(reference_codex, tmp_path, _config_scenario, extra=CONFIG_EXTRA)
    for key in reference:
        if key == "user_layer":  # the version hashes the layer's content: same content, same hash
            continue
        assert ours[key] == reference[key], f"{key}:\n ours: {ours[key]}\n ref:  {reference[key]}"
    assert ours["user_layer"]["config"] == reference["user_layer"]["config"]
    # A 0640 file comes back 0600, as from 0.169: config.toml may hold tokens (every writer caps it).
    assert "# keep me" in ours["file"] and "# and me" in ours["file"] and ours["mode"] == 0o600


def test_startup_lists_the_tui_reads_match_the_reference(reference_codex: Path, tmp_path: Path) -> None:
    def scenario(command: list[str], home: Path, model: MockModel) -> dict[str, Any]:
        with AppServerProcess(home, command=command, cwd=home) as app:
            app.initialize()
            out = {
                "hooks": app.call("hooks/list", {"cwds": [str(home)]}),
                "modes": app.call("collaborationMode/list", {}),
                "profiles": app.call("permissionProfile/list", {}),
                "gov_cloud": app.call("account/bedrock/checkGovCloudRequirements", {}),
                "plugins": app.call("plugin/installed", {"cwds": [str(home)]}),
                "features_shape": sorted(app.call("experimentalFeature/list", {})["data"][0]),
            }
            app.assert_schema_clean()
        out["hooks"]["data"][0]["cwd"] = os.path.relpath(out["hooks"]["data"][0]["cwd"], home)
        return out

    reference, ours = run_both(reference_codex, tmp_path, scenario)
    assert ours == reference
