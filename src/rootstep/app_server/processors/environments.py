"""``environment/add`` (experimental): point an environment id at a websocket exec-server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from rootstep.app_server.context import RequestContext
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params
from rootstep.protocol.thread import EmptyResponse

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices


class EnvironmentAddParams(Params):
    environment_id: str
    exec_server_url: str
    connect_timeout_ms: int | None = Field(default=None, ge=0)


async def environment_add(ctx: RequestContext, p: EnvironmentAddParams) -> EmptyResponse:
    manager = await ctx.server.services.environments.ready()
    timeout = (p.connect_timeout_ms / 1000) if p.connect_timeout_ms else 10.0
    try:
        manager.add_websocket(p.environment_id, p.exec_server_url, connect_timeout=timeout)
    except ValueError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    return EmptyResponse()


def register(table: MethodTable, services: AppServices) -> None:
    table.add("environment/add", environment_add, EnvironmentAddParams, experimental=True)
