"""account/read, account/login/start|cancel, account/logout, account/rateLimits/read, and the
Bedrock GovCloud check the TUI makes at start (no Bedrock here: never GovCloud).

The account is the server's :class:`rootstep.auth.AuthStore`; model requests of providers that
need OpenAI auth (``requires_openai_auth``) and have no key of their own use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import global_scope
from rootstep.auth import AuthStore
from rootstep.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, JsonRpcError
from rootstep.protocol.account import (
    AccountLoginCompleted,
    AccountUpdated,
    BedrockGovCloudResponse,
    CancelLoginAccountParams,
    GetAccountParams,
    GetAccountRateLimitsResponse,
    GetAccountResponse,
    LoginAccountParams,
)
from rootstep.protocol.thread import EmptyResponse

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.server import AppServer
    from rootstep.app_server.wiring import AppServices

EXTERNAL_AUTH_ACTIVE = (
    "External auth is active. Use account/login/start (chatgptAuthTokens) to update it or "
    "account/logout to clear it."
)


def auth_store(server: AppServer) -> AuthStore:
    return server.services.auth


async def account_read(ctx: RequestContext, p: GetAccountParams) -> GetAccountResponse:
    account = auth_store(ctx.server).current()
    return GetAccountResponse(
        account=account.account() if account else None,
        user_id=account.user_id if account else None,
        requires_openai_auth=ctx.server.config.provider.requires_openai_auth,
    )


async def login_start(ctx: RequestContext, p: LoginAccountParams) -> None:
    store = auth_store(ctx.server)
    if p.type == "chatgptAuthTokens":
        if not p.access_token or not p.chatgpt_account_id:
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: missing field `accessToken`"
                               if not p.access_token else "Invalid request: missing field `chatgptAccountId`")
        account = store.login_external_tokens(p.access_token, p.chatgpt_account_id, p.chatgpt_plan_type)
    elif store.external_active:
        raise JsonRpcError(INVALID_REQUEST, EXTERNAL_AUTH_ACTIVE)
    elif p.type == "apiKey":
        if p.api_key is None:
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: missing field `apiKey`")
        try:
            account = store.login_api_key(p.api_key)
        except OSError as exc:
            raise JsonRpcError(INTERNAL_ERROR, f"failed to save api key: {exc}") from None
    elif p.type in ("chatgpt", "chatgptDeviceCode"):
        raise JsonRpcError(INVALID_REQUEST, f"login type `{p.type}` is not supported by this server; "
                           "use `apiKey`, or `chatgptAuthTokens` from a host app")
    else:
        raise JsonRpcError(INVALID_REQUEST, f"Invalid request: unknown variant `{p.type}`")
    await ctx.respond({"type": p.type})
    await ctx.server.notify(AccountLoginCompleted.METHOD, AccountLoginCompleted(success=True))
    await ctx.server.notify(AccountUpdated.METHOD, AccountUpdated(auth_mode=account.mode, plan_type=account.plan_type))


async def login_cancel(ctx: RequestContext, p: CancelLoginAccountParams) -> None:
    raise JsonRpcError(INVALID_REQUEST, f"invalid login id: {p.login_id}")


async def logout(ctx: RequestContext, p: object) -> None:
    auth_store(ctx.server).logout()
    await ctx.respond(EmptyResponse())
    await ctx.server.notify(AccountUpdated.METHOD, AccountUpdated())


async def rate_limits_read(ctx: RequestContext, p: object) -> GetAccountRateLimitsResponse:
    from rootstep.auth.rate_limits import RateLimitError, fetch_rate_limits

    account = auth_store(ctx.server).current()
    if account is None:
        raise JsonRpcError(INVALID_REQUEST, "codex account authentication required to read rate limits")
    if not account.is_chatgpt:
        raise JsonRpcError(INVALID_REQUEST, "chatgpt authentication required to read rate limits")
    try:
        snapshot = await fetch_rate_limits(account, ctx.server.config.raw.get("chatgpt_base_url"))
    except RateLimitError as exc:
        raise JsonRpcError(INTERNAL_ERROR, f"failed to fetch codex rate limits: {exc}") from None
    return GetAccountRateLimitsResponse(rate_limits=snapshot, rate_limits_by_limit_id={"codex": snapshot})


async def bedrock_gov_cloud(ctx: RequestContext, p: object) -> BedrockGovCloudResponse:
    return BedrockGovCloudResponse()


def register(table: MethodTable, services: AppServices) -> None:
    table.add("account/read", account_read, GetAccountParams, params_required=False)
    table.add("account/login/start", login_start, LoginAccountParams, scope=global_scope("account"))
    table.add("account/login/cancel", login_cancel, CancelLoginAccountParams)
    table.add("account/logout", logout, None, scope=global_scope("account"))
    table.add("account/rateLimits/read", rate_limits_read, None)
    table.add("account/bedrock/checkGovCloudRequirements", bedrock_gov_cloud, None)
