"""model/list: the configured model first, then the provider's well-known models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.app_server.context import RequestContext
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.thread import (
    ModelInfo,
    ModelListParams,
    ModelListResponse,
    ReasoningEffortOption,
)

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices

_EFFORTS = [
    ReasoningEffortOption(reasoning_effort="low", description="Fast responses with lighter reasoning"),
    ReasoningEffortOption(reasoning_effort="medium", description="Balances speed and reasoning depth"),
    ReasoningEffortOption(reasoning_effort="high", description="Greater reasoning depth for complex problems"),
]
_KNOWN = ["gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.1"]


def catalog(default_model: str) -> list[ModelInfo]:
    names = [default_model] + [m for m in _KNOWN if m != default_model]
    return [
        ModelInfo(
            id=name, model=name, display_name=name, description=f"{name} via the Responses API",
            is_default=(name == default_model), supported_reasoning_efforts=_EFFORTS,
        )
        for name in names
    ]


async def model_list(ctx: RequestContext, p: ModelListParams) -> ModelListResponse:
    models = catalog(ctx.server.config.model)
    offset = 0
    if p.cursor:
        try:
            offset = int(p.cursor)
        except ValueError:
            raise JsonRpcError(INVALID_REQUEST, f"invalid cursor: {p.cursor}") from None
    limit = p.limit if p.limit and p.limit > 0 else len(models)
    page = models[offset : offset + limit]
    more = offset + limit < len(models)
    return ModelListResponse(data=page, next_cursor=str(offset + limit) if more else None)


def register(table: MethodTable, services: AppServices) -> None:
    table.add("model/list", model_list, ModelListParams, params_required=False)
