"""The Responses API client and the events a model step yields."""

from rootstep.model.client import ModelRequest, ResponsesClient
from rootstep.model.events import (
    Completed,
    FunctionCallDone,
    MessageDone,
    MessageStarted,
    ModelError,
    ModelEvent,
    OtherItemDone,
    TextDelta,
    Usage,
    map_event,
)

__all__ = [
    "Completed",
    "FunctionCallDone",
    "MessageDone",
    "MessageStarted",
    "ModelError",
    "ModelEvent",
    "ModelRequest",
    "OtherItemDone",
    "ResponsesClient",
    "TextDelta",
    "Usage",
    "map_event",
]
