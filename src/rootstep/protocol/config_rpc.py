"""config/read, configRequirements/read, config/value/write, config/batchWrite shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rootstep.protocol.base import Params, WireModel


class ConfigReadParams(Params):
    include_layers: bool = False
    cwd: str | None = None


class ConfigLayer(WireModel):
    name: dict[str, Any]
    version: str
    config: Any
    disabled_reason: str | None = None
    __omit_none__ = frozenset({"disabled_reason"})


class ConfigReadResponse(WireModel):
    config: dict[str, Any]
    origins: dict[str, Any]
    layers: list[ConfigLayer] | None = None


class ConfigRequirementsReadResponse(WireModel):
    supports_independent_speed_modes: bool = True
    requirements: Any = None


MergeStrategy = Literal["replace", "upsert"]


class ConfigEditParams(Params):
    key_path: str
    value: Any = Field(...)
    merge_strategy: MergeStrategy


class ConfigValueWriteParams(ConfigEditParams):
    file_path: str | None = None
    expected_version: str | None = None


class ConfigBatchWriteParams(Params):
    edits: list[ConfigEditParams]
    file_path: str | None = None
    expected_version: str | None = None
    reload_user_config: bool | None = None


class ConfigWriteResponse(WireModel):
    status: Literal["ok", "okOverridden"] = "ok"
    version: str
    file_path: str
    overridden_metadata: Any = None
