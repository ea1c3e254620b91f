"""review/start: a code review as a turn of the thread (``delivery: "inline"``, the only kind
codex 0.169 accepts).

The turn shows ``enteredReviewMode``, the review prompt as a user message, the reviewer's
streamed answer, ``exitedReviewMode`` with the rendered review and that text as the turn's
agent message; the reviewer works apart from the thread's history, which afterwards remembers
the review's outcome (:mod:`rootstep.core.review`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootstep.app_server.context import RequestContext
from rootstep.app_server.methods import thread_scope
from rootstep.core.ids import is_uuid
from rootstep.core.review import ReviewError, review_request
from rootstep.jsonrpc import INVALID_REQUEST, JsonRpcError
from rootstep.protocol.base import Params, WireModel, wire

if TYPE_CHECKING:
    from rootstep.app_server.methods import MethodTable
    from rootstep.app_server.wiring import AppServices


class ReviewStartParams(Params):
    thread_id: str
    target: dict[str, Any]
    delivery: str | None = None


class ReviewStartResponse(WireModel):
    turn: dict[str, Any]  # a wire Turn (its rootTurnId stays null here, as in 0.169)
    review_thread_id: str


async def review_start(ctx: RequestContext, p: ReviewStartParams) -> None:
    if p.delivery not in (None, "inline"):
        raise JsonRpcError(INVALID_REQUEST, f"Invalid request: unknown variant `{p.delivery}`, expected `inline`")
    if not is_uuid(p.thread_id):
        raise JsonRpcError(INVALID_REQUEST, f"invalid thread id: {p.thread_id}")
    manager = ctx.server.manager
    thread = manager.threads.get(p.thread_id)
    if thread is None:
        raise JsonRpcError(INVALID_REQUEST, f"thread not found: {p.thread_id}")
    if thread.active is not None:
        raise JsonRpcError(INVALID_REQUEST, f"thread {thread.id} has an active turn; review after it completes")
    try:
        request = review_request(p.target, thread.settings.cwd)
    except ReviewError as exc:
        raise JsonRpcError(INVALID_REQUEST, str(exc)) from None
    ctx.connection.subscriptions.add(thread.id)
    turn = manager.start_turn(thread, [])
    assert thread.active is not None
    thread.active.review = request
    # As codex 0.169: the response shows the review's label as the turn's user message.
    label = {"type": "userMessage", "id": turn.id, "clientId": None,
             "content": [{"type": "text", "text": request.display, "text_elements": []}],
             "startedAtMs": None, "completedAtMs": None}
    shown = {**wire(turn), "items": [label], "rootTurnId": None}
    await ctx.respond(ReviewStartResponse(turn=shown, review_thread_id=thread.id))
    manager.launch(thread, [])


def register(table: MethodTable, services: AppServices) -> None:
    table.add("review/start", review_start, ReviewStartParams, scope=thread_scope())
