"""Wire models of the catalog requests: ``skills/list`` (spec §2.9) and ``app/list`` (§2.8).

Shapes follow ``v2/SkillsList*.json`` and ``v2/AppsList*.json`` of codex 0.169. The optional
fields codex 0.169 skips when empty (``shortDescription``, ``interface``, ``dependencies`` of a
skill) are omitted; the others (``pluginId``, every ``interface`` field) are sent as ``null``,
as the 0.169 binary does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from rootstep.protocol.base import Params, WireModel

SkillScope = Literal["user", "repo", "system", "admin"]


# --- skills/list ---------------------------------------------------------------------------------


class SkillsListParams(Params):
    cwds: list[str] = Field(default_factory=list)
    force_reload: bool = False


class SkillInterface(WireModel):
    """From the skill's ``agents/openai.yaml`` ``interface`` table."""

    display_name: str | None = None
    short_description: str | None = None
    icon_small: str | None = None
    icon_large: str | None = None
    icon_small_url: str | None = None
    icon_large_url: str | None = None
    brand_color: str | None = None
    default_prompt: str | None = None


class SkillToolDependency(WireModel):
    __omit_none__ = frozenset({"description", "transport", "command", "url"})

    type: str
    value: str
    description: str | None = None
    transport: str | None = None
    command: str | None = None
    url: str | None = None


class SkillDependencies(WireModel):
    tools: list[SkillToolDependency]


class SkillMetadata(WireModel):
    __omit_none__ = frozenset({"short_description", "interface", "dependencies"})

    name: str
    description: str
    short_description: str | None = None
    interface: SkillInterface | None = None
    dependencies: SkillDependencies | None = None
    path: str
    scope: SkillScope
    enabled: bool
    plugin_id: str | None = None


class SkillErrorInfo(WireModel):
    path: str
    message: str


class SkillsListEntry(WireModel):
    cwd: str
    skills: list[SkillMetadata]
    errors: list[SkillErrorInfo]


class SkillsListResponse(WireModel):
    data: list[SkillsListEntry]


# --- app/list ------------------------------------------------------------------------------------


class AppsListParams(Params):
    cursor: str | None = None
    limit: int | None = None
    thread_id: str | None = None
    force_refetch: bool = False

    @field_validator("limit")
    @classmethod
    def _u32(cls, value: int | None) -> int | None:
        """``limit`` is a u32 on the reference; say so in its words."""
        if value is not None and not 0 <= value < 2**32:
            raise PydanticCustomError("u32", "invalid value: integer `{value}`, expected u32", {"value": value})
        return value


class AppInfo(WireModel):
    """One app (connector). Only the fields rootstep can fill; the rest default as in Codex."""

    id: str
    name: str
    description: str | None = None
    logo_url: str | None = None
    logo_url_dark: str | None = None
    distribution_channel: str | None = None
    install_url: str | None = None
    is_accessible: bool = False
    is_enabled: bool = True
    plugin_display_names: list[str] = Field(default_factory=list)


class AppsListResponse(WireModel):
    data: list[AppInfo]
    next_cursor: str | None = None
