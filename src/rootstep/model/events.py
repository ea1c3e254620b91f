"""What a model step yields, independent of the SDK's event classes.

:func:`map_event` is a pure function from one Responses stream event (its JSON object)
to zero or one of these; the turn loop only ever sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rootstep.tools import FunctionCall


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class MessageStarted:
    item_id: str


@dataclass(frozen=True)
class TextDelta:
    item_id: str
    delta: str


@dataclass(frozen=True)
class MessageDone:
    item_id: str
    text: str
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class FunctionCallDone:
    call: FunctionCall
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class OtherItemDone:
    """An output item we do not surface (reasoning, ...) but keep in history for the model."""

    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Completed:
    response_id: str | None
    usage: Usage | None


ModelEvent = MessageStarted | TextDelta | MessageDone | FunctionCallDone | OtherItemDone | Completed


class ModelError(Exception):
    """The model request failed (HTTP error, ``response.failed``, broken stream)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _dump(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        dumped: dict[str, Any] = obj.model_dump(mode="json", exclude_none=True)
        return dumped
    return dict(obj)


def _get(obj: Any, key: str) -> Any:
    """A field of a raw event dict or of an SDK model."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    data = _dump(raw)
    inp = int(data.get("input_tokens") or 0)
    out = int(data.get("output_tokens") or 0)
    return Usage(
        input_tokens=inp,
        cached_input_tokens=int((data.get("input_tokens_details") or {}).get("cached_tokens") or 0),
        output_tokens=out,
        reasoning_output_tokens=int((data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0),
        total_tokens=int(data.get("total_tokens") or inp + out),
    )


def message_text(item: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "") for part in item.get("content") or [] if part.get("type") in ("output_text", "text")
    )


def map_event(event: Any) -> ModelEvent | None:
    """One stream event (raw dict or SDK model) → our event.

    Raises :class:`ModelError` on ``response.failed`` / ``response.incomplete`` / ``error``.
    """
    kind = _get(event, "type")
    if kind == "response.output_item.added":
        item = _dump(_get(event, "item") or {})
        if item.get("type") == "message" and item.get("role", "assistant") == "assistant":
            return MessageStarted(item_id=str(item.get("id") or ""))
        return None
    if kind == "response.output_text.delta":
        return TextDelta(item_id=str(_get(event, "item_id") or ""), delta=_get(event, "delta") or "")
    if kind == "response.output_item.done":
        item = _dump(_get(event, "item") or {})
        item_type = item.get("type")
        if item_type == "message":
            return MessageDone(item_id=str(item.get("id") or ""), text=message_text(item), raw=item)
        if item_type == "function_call":
            call = FunctionCall(
                call_id=str(item.get("call_id") or ""),
                name=str(item.get("name") or ""),
                namespace=item.get("namespace"),
                arguments=item.get("arguments") or "",
            )
            return FunctionCallDone(call=call, raw=item)
        if item_type == "custom_tool_call":  # a freeform tool (apply_patch's grammar): raw input
            call = FunctionCall(
                call_id=str(item.get("call_id") or ""), name=str(item.get("name") or ""), namespace=None,
                arguments=str(item.get("input") or ""), custom=True,
            )
            return FunctionCallDone(call=call, raw=item)
        return OtherItemDone(raw=item)
    if kind == "response.completed":
        response = _get(event, "response") or {}
        return Completed(response_id=_get(response, "id"), usage=_usage(_get(response, "usage")))
    if kind in ("response.failed", "response.incomplete"):
        response = _get(event, "response") or {}
        error = _get(response, "error")
        message = _get(error, "message") if error is not None else None
        if not message and kind == "response.incomplete":
            details = _get(response, "incomplete_details")
            message = f"response incomplete: {_get(details, 'reason') if details else 'unknown'}"
        raise ModelError(message or "model response failed")
    if kind == "error":
        raise ModelError(_get(event, "message") or "model stream error")
    return None
