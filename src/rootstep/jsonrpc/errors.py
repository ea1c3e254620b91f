"""Error codes and the exception that carries a JSON-RPC error object."""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
OVERLOADED = -32001
NOT_FOUND = -32004
SESSION_ALREADY_ATTACHED = -32010
TRANSPORT_CLOSED = -32000


class JsonRpcError(Exception):
    """An error to answer a request with, or one received in answer to ours."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"JsonRpcError({self.code}, {self.message!r})"


class ConnectionClosed(JsonRpcError):
    """The peer went away while a request of ours was pending."""

    def __init__(self, message: str = "JSON-RPC transport closed") -> None:
        super().__init__(TRANSPORT_CLOSED, message)
