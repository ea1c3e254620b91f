"""Configuration: the home folder, config.toml with ``-c`` overrides, model providers.

Names are loaded lazily so ``rootstep.config.home`` can be used before pydantic is imported
(the app-server answers ``initialize`` before loading anything heavy).
"""

from __future__ import annotations

TYPE_CHECKING = False  # see rootstep.config.home: keep start-up imports minimal

_EXPORTS = {
    "Config": "rootstep.config.config",
    "ConfigError": "rootstep.config.config",
    "from_document": "rootstep.config.config",
    "load_config": "rootstep.config.config",
    "read_document": "rootstep.config.config",
    "merge_repeated_tables": "rootstep.config.config",
    "codex_home": "rootstep.config.home",
    "ModelProviderInfo": "rootstep.config.model_provider",
    "OverrideError": "rootstep.config.overrides",
    "apply_overrides": "rootstep.config.overrides",
    "parse_override": "rootstep.config.overrides",
    "parse_value": "rootstep.config.overrides",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from rootstep.config.config import (
        Config as Config,
        ConfigError as ConfigError,
        from_document as from_document,
        load_config as load_config,
        merge_repeated_tables as merge_repeated_tables,
        read_document as read_document,
    )
    from rootstep.config.home import codex_home as codex_home
    from rootstep.config.model_provider import ModelProviderInfo as ModelProviderInfo
    from rootstep.config.overrides import (
        OverrideError as OverrideError,
        apply_overrides as apply_overrides,
        parse_override as parse_override,
        parse_value as parse_value,
    )


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rootstep.config' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
