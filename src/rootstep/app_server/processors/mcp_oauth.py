"""``mcpServer/oauth/login`` (spec §7.1): the flow lives in :mod:`rootstep.mcp.oauth`.

With ``threadId`` the server is looked up in the thread's published runtime after a step
capture (so a ready selected root's HTTP server is found, and its OAuth traffic goes through its
environment's HTTP client); without, in the latest config.toml servers. The response carries the
authorization URL at once; ``mcpServer/oauthLogin/completed`` is broadcast when the flow ends.
``clientRegistration`` (0.169) picks CIMD / dynamic registration for this login only
(:mod:`rootstep.mcp.oauth.registration`); a server in an executor environment gets its tokens
under the executor-namespaced credential name (:mod:`rootstep.mcp.credential_names`).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rootstep import preload
from rootstep.app_server.context import RequestContext, loaded_thread
from rootstep.config.mcp_servers import HttpTransport, McpServerConfig
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params, WireModel

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices

log = logging.getLogger(__name__)


class McpServerOauthLoginParams(Params):
    name: str
    thread_id: str | None = None
    scopes: list[str] | None = None
    timeout_secs: int | None = None
    client_registration: Literal["auto", "cimd", "dcr"] | None = None


class McpServerOauthLoginResponse(WireModel):
    authorization_url: str
    login_id: str


class McpServerOauthLoginCompleted(WireModel):
    METHOD: ClassVar[str] = "mcpServer/oauthLogin/completed"
    name: str
    thread_id: str | None = None
    success: bool
    error: str | None = None
    login_id: str


async def _server_config(ctx: RequestContext, p: McpServerOauthLoginParams) -> McpServerConfig | None:
    service = ctx.server.services.mcp
    if p.thread_id is None:
        return service.servers.servers.get(p.name)
    loaded_thread(ctx, p.thread_id)
    mcp = service.for_thread(p.thread_id)
    if mcp is None:
        return service.servers.servers.get(p.name)
    runtime = await mcp.resolve()  # the published snapshot after a capture, as a step sees it
    try:
        return runtime.servers.get(p.name)
    finally:
        await runtime.release()


def _http_client(ctx: RequestContext, config: McpServerConfig) -> Any:
    import httpx2

    if config.environment_id != "local":
        env = ctx.server.services.environments.get(config.environment_id)
        if env is not None:
            return env.http_client()
    return httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), trust_env=True)


async def oauth_login(ctx: RequestContext, p: McpServerOauthLoginParams) -> McpServerOauthLoginResponse:
    await preload.ready()
    from rootstep.mcp.oauth import (
        OAuthLoginError,
        OAuthUnsupportedServerError,
        perform_login,
    )

    config = await _server_config(ctx, p)
    if config is None:
        raise JsonRpcError(INVALID_REQUEST, f"No MCP server named '{p.name}' found.")
    if not isinstance(config.transport, HttpTransport):
        raise JsonRpcError(INVALID_REQUEST, "OAuth login is only supported for streamable HTTP servers.")
    service = ctx.server.services.mcp
    settings = ctx.server.config.oauth
    client = _http_client(ctx, config)
    try:
        login = await perform_login(
            p.name, config, http_client=client, settings=settings, store=service.tokens.store,
            scopes=p.scopes, timeout_secs=p.timeout_secs, client_registration=p.client_registration,
        )
    except OAuthUnsupportedServerError:
        await client.aclose()
        raise JsonRpcError(INVALID_REQUEST, "OAuth login is only supported for streamable HTTP servers.") from None
    except OAuthLoginError as exc:  # e.g. `clientRegistration: "cimd"` on a server without CIMD
        await client.aclose()
        raise JsonRpcError(INTERNAL_ERROR, f"failed to login to MCP server '{p.name}': {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a setup failure is the request's error
        await client.aclose()
        raise JsonRpcError(INTERNAL_ERROR, f"failed to login to MCP server '{p.name}': {exc}") from None
    login_id = str(uuid.uuid4())
    server = ctx.server

    async def finish() -> None:
        try:
            result = await login.wait()
            success, error = result.success, result.error
        except Exception as exc:  # noqa: BLE001
            success, error = False, str(exc)
        finally:
            await client.aclose()
        if success:
            service.after_login(p.name)
        await server.emit(
            McpServerOauthLoginCompleted(
                name=p.name, thread_id=p.thread_id, success=success, error=error, login_id=login_id
            )
        )

    ctx.server.services.background.start_soon(finish, name=f"oauth-login:{p.name}")
    return McpServerOauthLoginResponse(authorization_url=login.authorization_url, login_id=login_id)


def register(table: MethodTable, services: AppServices) -> None:
    table.add("mcpServer/oauth/login", oauth_login, McpServerOauthLoginParams)
