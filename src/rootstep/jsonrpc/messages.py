"""Message shapes and their (de)serialization.

Outgoing messages are one compact JSON object per line and never carry ``"jsonrpc"``; an
incoming ``"jsonrpc"`` member is tolerated and ignored. Ids are integers or strings, echoed
verbatim.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from rootstep.jsonrpc.errors import INVALID_REQUEST, PARSE_ERROR, JsonRpcError

RequestId = int | str


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Request(_Msg):
    id: RequestId
    method: str
    params: Any = None
    # Whether the ``params`` member was present at all (some methods require it).
    has_params: bool = True


class Notification(_Msg):
    method: str
    params: Any = None


class ErrorObject(_Msg):
    code: int
    message: str
    data: Any = None


class Response(_Msg):
    id: RequestId
    result: Any = None


class ErrorResponse(_Msg):
    id: RequestId | None = None
    error: ErrorObject


Message = Request | Notification | Response | ErrorResponse


def _dump(value: Any) -> Any:
    """Wire form of a params/result value: pydantic models by alias, without unset fields."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


class UnserializableMessage(ValueError):
    """A message that cannot be written as UTF-8 JSON (e.g. a lone surrogate in a string)."""


def _line(obj: dict[str, Any]) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError) as exc:
        raise UnserializableMessage(f"cannot serialize message: {printable(str(exc))}") from None


def printable(text: str) -> str:
    """``text`` with anything UTF-8 cannot carry (lone surrogates) replaced by ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def encode_request(id: RequestId, method: str, params: Any = None) -> bytes:
    obj: dict[str, Any] = {"id": id, "method": method}
    if params is not None:
        obj["params"] = _dump(params)
    return _line(obj)


def encode_notification(method: str, params: Any = None, **extra: Any) -> bytes:
    obj: dict[str, Any] = {"method": method}
    if params is not None:
        obj["params"] = _dump(params)
    obj.update(extra)
    return _line(obj)


def encode_response(id: RequestId, result: Any) -> bytes:
    dumped = _dump(result)
    return _line({"id": id, "result": {} if dumped is None else dumped})


def encode_response_json(id: RequestId, result_json: bytes) -> bytes:
    """A response whose result is already JSON (a model serialized by pydantic in one pass)."""
    return b'{"id":' + json.dumps(id, ensure_ascii=False).encode() + b',"result":' + result_json + b"}\n"


def encode_notification_json(method: str, params_json: bytes, **extra: Any) -> bytes:
    """A notification whose params are already JSON; ``extra`` members follow ``params``."""
    tail = b"".join(b"," + json.dumps(k).encode() + b":" + json.dumps(v, ensure_ascii=False).encode()
                    for k, v in extra.items())
    return b'{"method":' + json.dumps(method, ensure_ascii=False).encode() + b',"params":' + params_json + tail + b"}\n"


def encode_error(id: RequestId | None, code: int, message: str, data: Any = None) -> bytes:
    """An error response; it is always writable: text UTF-8 cannot carry is replaced, and
    ``data`` that cannot be serialized is dropped."""
    error: dict[str, Any] = {"code": code, "message": printable(message)}
    if data is not None:
        error["data"] = data
    try:
        return _line({"error": error, "id": id})
    except UnserializableMessage:
        error.pop("data", None)
        return _line({"error": error, "id": printable(id) if isinstance(id, str) else id})


# A ``\uD800``-``\uDFFF`` escape: the only way a lone surrogate gets into a decoded line (raw
# surrogate bytes are invalid UTF-8 already). Cheap to search; the decoded value is then checked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a lone surrogate (a valid escaped pair decodes to one
    character outside the surrogate range, so any surrogate left is lone)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_message(line: bytes | str) -> Message:
    """Classify one line. Raises JsonRpcError(-32700) for bad JSON, (-32600) for a bad shape.

    A lone surrogate (``"\\ud800"``) is bad JSON here, as it is for codex's parser: no text
    that cannot be written back as UTF-8 ever gets into the server's state."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonRpcError(PARSE_ERROR, f"Parse error: {exc}") from None
    except RecursionError:  # ``[[[[…`` past the decoder's depth: bad input, not a crash
        raise JsonRpcError(PARSE_ERROR, "Parse error: nesting too deep") from None
    pattern = _SURROGATE_ESCAPE_BYTES if isinstance(line, bytes) else _SURROGATE_ESCAPE
    if pattern.search(line) and _has_lone_surrogate(obj):  # type: ignore[arg-type]
        raise JsonRpcError(PARSE_ERROR, "Parse error: lone surrogate in hex escape")
    if isinstance(obj, list):
        raise JsonRpcError(INVALID_REQUEST, "Invalid request: batches are not supported")
    if not isinstance(obj, dict):
        raise JsonRpcError(INVALID_REQUEST, "Invalid request: a message must be a JSON object")
    msg_id = obj.get("id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
        raise JsonRpcError(INVALID_REQUEST, "Invalid request: id must be an integer or a string")
    method = obj.get("method")
    if method is not None:
        if not isinstance(method, str):
            raise JsonRpcError(INVALID_REQUEST, "Invalid request: method must be a string")
        if "id" in obj and msg_id is not None:
            return Request(id=msg_id, method=method, params=obj.get("params"), has_params="params" in obj)
        return Notification(method=method, params=obj.get("params"))
    if "result" in obj and msg_id is not None:
        return Response(id=msg_id, result=obj["result"])
    error = obj.get("error")
    if isinstance(error, dict):
        try:
            return ErrorResponse(id=msg_id, error=ErrorObject.model_validate(error))
        except ValueError:
            pass
    raise JsonRpcError(INVALID_REQUEST, "Invalid request: not a request, notification or response")
