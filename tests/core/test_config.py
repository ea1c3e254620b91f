"""config.toml, -c overrides and providers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from rootstep.config import ConfigError, load_config, merge_repeated_tables, parse_override, parse_value
from rootstep.config.home import codex_home
from tests.fixtures.mock_model import write_config


def test_home_from_env(tmp_path: Path) -> None:
    assert codex_home({"CODEX_HOME": str(tmp_path)}) == tmp_path.resolve()
    assert codex_home({}).name == ".rootstep"


def test_codex_test_writer_file_with_repeated_features_table(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:1/v1", extra="\n[features]\napps = false\n")
    config = load_config(tmp_path)
    assert config.model == "mock-model" and config.model_provider_id == "mock_provider"
    assert config.provider.effective_base_url() == "http://127.0.0.1:1/v1"
    assert config.provider.max_retries() == 0
    assert config.approval_policy == "never" and config.sandbox_mode == "read-only"
    assert config.features == {"apps": False}


def test_overrides_are_toml_values_with_string_fallback(tmp_path: Path) -> None:
    write_config(tmp_path, "http://x/v1")
    config = load_config(tmp_path, ['model="gpt-x"', "model_providers.mock_provider.request_max_retries=3",
                                    "sandbox_mode=workspace-write", "features.apps=true"])
    assert config.model == "gpt-x" and config.provider.max_retries() == 3
    assert config.sandbox_mode == "workspace-write" and config.features["apps"] is True
    assert parse_value("[1, 2]") == [1, 2] and parse_value("bare words") == "bare words"
    assert parse_override("a.b.c=1") == (["a", "b", "c"], 1)


def test_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("model = [unclosed\n")
    with pytest.raises(ConfigError, match="config.toml"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="model provider `nope` not found"):
        load_config(tmp_path / "missing", ["model_provider=nope"])


def test_provider_headers_and_env_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        'model_provider = "p"\n[model_providers.p]\nbase_url = "http://h/v1"\nenv_key = "MY_KEY"\n'
        'http_headers = { "x-a" = "1" }\nenv_http_headers = { "x-b" = "HDR", "x-c" = "UNSET_HDR" }\n'
    )
    monkeypatch.setenv("MY_KEY", "secret")
    monkeypatch.setenv("HDR", "from-env")
    monkeypatch.delenv("UNSET_HDR", raising=False)
    provider = load_config(tmp_path).provider
    assert provider.api_key() == "secret"
    assert provider.headers() == {"x-a": "1", "x-b": "from-env"}


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=6))
def test_merge_repeated_tables_keeps_every_key(names: list[str]) -> None:
    text = "top = 1\n" + "".join(f"[{n}]\nk{i} = {i}\n" for i, n in enumerate(names))
    import tomllib

    merged = tomllib.loads(merge_repeated_tables(text))
    assert merged["top"] == 1
    for i, n in enumerate(names):
        assert merged[n][f"k{i}"] == i
