"""The base of every app-server wire model: camelCase on the wire, snake_case in Python.

Codex serializes ``None`` as ``null`` for most optional fields (several are *required but
nullable* in the schema, e.g. ``Thread.projectId``), so :func:`wire` keeps nulls. Fields that
Codex omits when empty are listed in a model's ``__omit_none__``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """camelCase aliases, construction by either name, unknown input fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    __omit_none__: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_declared_nones(self, handler: Any) -> Any:
        data = handler(self)
        if self.__omit_none__ and isinstance(data, dict):
            for name in self.__omit_none__:
                field = type(self).model_fields[name]
                key = field.alias or name
                for k in (key, name):
                    if k in data and data[k] is None:
                        del data[k]
        return data


class Params(WireModel):
    """Request params: unknown fields are ignored (clients send newer fields)."""


def wire(value: Any) -> Any:
    """The JSON-ready form of a model (by alias, nulls kept) — what goes on the wire."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return value


def wire_json(value: Any) -> bytes | None:
    """A model's wire form as JSON text in one pass (same content as :func:`wire`); None for
    anything that is not a model."""
    if isinstance(value, BaseModel):
        return value.model_dump_json(by_alias=True).encode()
    return None
