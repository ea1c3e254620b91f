"""The method table: name → params model, handler, serialization scope, experimental gating.

Processors register their methods here (see :mod:`rootstep.app_server.processors`); the
:class:`~rootstep.app_server.connection.Connection` looks them up, validates params and runs
handlers. Handlers return a result model, or call ``ctx.respond`` themselves when something
must follow the response on the wire (``thread/started`` after ``thread/start``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.jsonrpc.serde_words import unexpected
from rootstep.protocol.approval_policy import SERDE_ERROR

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rootstep.app_server.context import RequestContext

Handler = Callable[["RequestContext", Any], Awaitable[Any]]
ScopeFn = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class MethodSpec:
    method: str
    handler: Handler
    # None: the method takes no params (anything sent is ignored).
    params: type[BaseModel] | None = None
    # Struct params must be present (``missing field `params```) unless this is False.
    params_required: bool = True
    # Requests with the same scope key run one at a time, in arrival order.
    scope: ScopeFn | None = None
    experimental: bool = False
    # camelCase names of experimental fields inside params.
    experimental_fields: tuple[str, ...] = ()


@dataclass
class MethodTable:
    methods: dict[str, MethodSpec] = field(default_factory=dict)

    def register(self, spec: MethodSpec) -> None:
        self.methods[spec.method] = spec

    def add(
        self,
        method: str,
        handler: Handler,
        params: type[BaseModel] | None = None,
        **options: Any,
    ) -> None:
        self.register(MethodSpec(method=method, handler=handler, params=params, **options))

    def get(self, method: str) -> MethodSpec:
        spec = self.methods.get(method)
        if spec is None:
            expected = ", ".join(f"`{m}`" for m in ["initialize", *sorted(self.methods)])
            raise JsonRpcError(
                INVALID_REQUEST, f"Invalid request: unknown variant `{method}`, expected one of {expected}"
            )
        return spec


def thread_scope(prefix: str = "thread") -> ScopeFn:
    """Serialize per ``threadId`` (turn/start, turn/interrupt, ...)."""

    def scope(params: Any) -> str | None:
        thread_id = getattr(params, "thread_id", None)
        return f"{prefix}:{thread_id}" if thread_id else None

    return scope


def global_scope(name: str) -> ScopeFn:
    return lambda params: name


def describe_validation_error(exc: Exception) -> str:
    """A pydantic ValidationError → the ``Invalid request: ...`` text clients see, in serde's
    words, as 0.169 answers (it names no field for a wrong type or variant)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"Invalid request: {exc}"
    first = errors()[0] if errors() else {}
    loc = ".".join(str(part) for part in first.get("loc", ()))
    kind = first.get("type", "")
    value = first.get("input")
    if kind == "missing":
        return f"Invalid request: missing field `{loc.rsplit('.', 1)[-1]}`"
    if kind == SERDE_ERROR:
        return f"Invalid request: {first.get('msg')}"
    expected = {
        "string_type": "a string",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "bool_type": "a boolean",
        "bool_parsing": "a boolean",
        "list_type": "a sequence",
        "dict_type": "a map",
        "model_type": "a struct",
        "model_attributes_type": "a struct",
    }.get(kind)
    if expected is not None:
        return f"Invalid request: invalid type: {unexpected(value)}, expected {expected}"
    if kind == "literal_error" and isinstance(value, str):
        names = re.findall(r"'((?:[^'\\]|\\.)*)'", str((first.get("ctx") or {}).get("expected", "")))
        if names:
            listed = ", ".join(f"`{name}`" for name in names)
            return f"Invalid request: unknown variant `{value}`, expected one of {listed}"
    if kind in ("literal_error", "union_tag_invalid", "enum"):
        return f"Invalid request: unknown variant {unexpected(value)}: {first.get('msg')}"
    return f"Invalid request: {first.get('msg', exc)} at `{loc}`"
