"""The Codex JSON-RPC dialect: JSON-RPC 2.0 shapes without the ``"jsonrpc"`` member.

Shared by the app-server and the exec-server, on both the client and the server side.
"""

from rootstep.jsonrpc.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_FOUND,
    OVERLOADED,
    PARSE_ERROR,
    ConnectionClosed,
    JsonRpcError,
)
from rootstep.jsonrpc.framing import LineReader, LineTooLong
from rootstep.jsonrpc.messages import (
    ErrorObject,
    ErrorResponse,
    Message,
    Notification,
    Request,
    RequestId,
    Response,
    encode_error,
    encode_notification,
    encode_request,
    encode_response,
    parse_message,
)
from rootstep.jsonrpc.peer import Peer

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "OVERLOADED",
    "PARSE_ERROR",
    "ConnectionClosed",
    "ErrorObject",
    "ErrorResponse",
    "JsonRpcError",
    "LineReader",
    "LineTooLong",
    "Message",
    "Notification",
    "Peer",
    "Request",
    "RequestId",
    "Response",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_response",
    "parse_message",
]
