"""``approvalPolicy`` in request params, checked as 0.169 deserializes ``AskForApproval``.

``"untrusted" | "on-request" | "never"``, or ``{"granular": {sandbox_approval, rules,
mcp_elicitations[, request_permissions, skill_approval]}}`` (booleans; kept as 0.169 keeps them:
the optional ones defaulted to false, other keys dropped); a
unit variant may also come as a one-key map (``{"never": {}}``), which means the plain name.
Anything else is refused with serde's words, as the reference answers it (probed on 0.169):
``unknown variant `on-failure`, expected one of ...``, ``missing field `rules```, ``invalid
type: integer `5`, expected string or map``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from rootstep.jsonrpc.serde_words import unexpected

UNIT_VARIANTS = ("untrusted", "on-request", "never")
VARIANTS = ("untrusted", "on-request", "granular", "never")
# Required, in the order serde reports the first one missing.
GRANULAR_REQUIRED = ("sandbox_approval", "rules", "mcp_elicitations")
# Every field, in the order 0.169 writes them (the others default to false).
GRANULAR_FIELDS = ("sandbox_approval", "rules", "skill_approval", "request_permissions", "mcp_elicitations")

# The error type describe_validation_error passes through word for word.
SERDE_ERROR = "serde"


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(SERDE_ERROR, "{message}", {"message": message})


def _unknown_variant(name: str) -> PydanticCustomError:
    expected = ", ".join(f"`{v}`" for v in VARIANTS)
    return _refuse(f"unknown variant `{name}`, expected one of {expected}")


def check_approval_policy(value: Any) -> Any:
    """The policy as given (a unit variant sent as a map: its name); raises on a bad one."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in UNIT_VARIANTS:
            raise _unknown_variant(value)
        return value
    if not isinstance(value, dict):
        raise _refuse(f"invalid type: {unexpected(value)}, expected string or map")
    if len(value) != 1:
        raise _refuse(f"invalid length {len(value)}, expected map containing 1 entry")
    ((name, body),) = value.items()
    if name in UNIT_VARIANTS:
        return name
    if name != "granular":
        raise _unknown_variant(str(name))
    if not isinstance(body, dict):
        raise _refuse(f"invalid type: {unexpected(body)}, expected struct variant")
    for field in GRANULAR_REQUIRED:
        if field not in body:
            raise _refuse(f"missing field `{field}`")
    for field in GRANULAR_FIELDS:
        if field in body and not isinstance(body[field], bool):
            raise _refuse(f"invalid type: {unexpected(body[field])}, expected a boolean")
    # As 0.169 keeps it: its fields in its order, the optional ones defaulted, others dropped.
    return {"granular": {field: bool(body.get(field, False)) for field in GRANULAR_FIELDS}}


ApprovalPolicyParam = Annotated[Any, BeforeValidator(check_approval_policy)]
