"""account/* params, results and notifications."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rootstep.protocol.base import Params, WireModel


class GetAccountParams(Params):
    refresh_token: bool | None = None


class GetAccountResponse(WireModel):
    account: dict[str, Any] | None = None
    user_id: str | None = None
    requires_openai_auth: bool
    workspace_routing: Any = None


class LoginAccountParams(Params):
    type: str
    api_key: str | None = None
    access_token: str | None = None
    chatgpt_account_id: str | None = None
    chatgpt_plan_type: str | None = None


class CancelLoginAccountParams(Params):
    login_id: str


class RateLimitSnapshot(WireModel):
    limit_id: str | None = "codex"
    limit_name: str | None = None
    normal_model_slug: str | None = None
    primary: dict[str, Any] | None = None
    secondary: dict[str, Any] | None = None
    credits: dict[str, Any] | None = None
    individual_limit: dict[str, Any] | None = None
    spend_control_reached: bool | None = None
    plan_type: str | None = None
    rate_limit_reached_type: str | None = None


class GetAccountRateLimitsResponse(WireModel):
    rate_limits: RateLimitSnapshot
    rate_limits_by_limit_id: dict[str, RateLimitSnapshot] | None = None


class BedrockGovCloudResponse(WireModel):
    is_gov_cloud: bool = False
    should_warn: bool = False


class AccountUpdated(WireModel):
    METHOD: ClassVar[str] = "account/updated"
    auth_mode: str | None = None
    plan_type: str | None = None


class AccountLoginCompleted(WireModel):
    METHOD: ClassVar[str] = "account/login/completed"
    login_id: str | None = None
    success: bool
    error: str | None = None
    onboarding_entrypoint: Any = None


class AccountRateLimitsUpdated(WireModel):
    METHOD: ClassVar[str] = "account/rateLimits/updated"
    rate_limits: RateLimitSnapshot


LoginType = Literal["apiKey", "chatgpt", "chatgptDeviceCode", "chatgptAuthTokens"]
