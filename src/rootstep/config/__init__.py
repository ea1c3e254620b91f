"""Configuration: the home folder, config.toml with ``-c`` overrides, model providers."""

from rootstep.config.config import Config, ConfigError, from_document, load_config, read_document
from rootstep.config.home import codex_home
from rootstep.config.model_provider import ModelProviderInfo
from rootstep.config.overrides import OverrideError, apply_overrides, parse_override, parse_value

__all__ = [
    "Config",
    "ConfigError",
    "ModelProviderInfo",
    "OverrideError",
    "apply_overrides",
    "codex_home",
    "from_document",
    "load_config",
    "parse_override",
    "parse_value",
    "read_document",
]
