"""Thread subscriptions with several clients on one server (``--listen ws://``): a client hears a
thread's notifications once it follows the thread (started, resumed, forked or ran a turn on it);
a thread nobody follows is heard by everyone; unsubscribing unloads only when no client is left."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.e2e.test_listeners import WsClient, home, no_leaks, start  # noqa: F401 - fixtures
from tests.fixtures.mock_model import MockModel, assistant_text

pytestmark = pytest.mark.timeout(120)


def _turn_events(client: WsClient, thread_id: str) -> list[str]:
    return [m["method"] for m in client.messages
            if "id" not in m and m.get("params", {}).get("threadId") == thread_id and m["method"].startswith("turn/")]


def test_only_followers_hear_a_thread_and_the_last_one_unloads_it(
    home: Path, model: MockModel, no_leaks: None  # noqa: F811 - pytest fixtures
) -> None:
    server = start(home, "ws://127.0.0.1:0")
    try:
        url = server.url()
        owner, other = WsClient(home, connect(url, legacy=True)), WsClient(home, connect(url, legacy=True))
        owner.initialize(name="owner")
        other.initialize(name="other")

        thread_id = owner.call("thread/start", {"model": "mock-model"})["thread"]["id"]
        model.queue(assistant_text("first", deltas=["first"]))
        assert owner.run_turn(thread_id, "one")["status"] == "completed"
        assert "turn/completed" in _turn_events(owner, thread_id)
        assert other.call("model/list", {})["data"]  # a round trip: anything sent to it has arrived
        assert _turn_events(other, thread_id) == []  # not following: nothing of that turn

        # resuming the loaded thread makes the second client a follower too
        other.call("thread/resume", {"threadId": thread_id})
        model.queue(assistant_text("second", deltas=["second"]))
        assert owner.run_turn(thread_id, "two")["status"] == "completed"
        other.wait_notification("turn/completed", lambda m: m["params"]["threadId"] == thread_id)

        # the owner leaves; the thread stays loaded for the other follower, who still runs turns
        assert owner.call("thread/unsubscribe", {"threadId": thread_id}) == {"status": "unsubscribed"}
        assert owner.call("thread/unsubscribe", {"threadId": thread_id}) == {"status": "notSubscribed"}
        assert thread_id in other.call("thread/loaded/list", {})["data"]
        before = len(_turn_events(owner, thread_id))
        model.queue(assistant_text("third", deltas=["third"]))
        assert other.run_turn(thread_id, "three")["status"] == "completed"
        assert owner.call("model/list", {})["data"]
        assert len(_turn_events(owner, thread_id)) == before  # no longer following

        # the last follower unsubscribes: unloaded, and closed
        assert other.call("thread/unsubscribe", {"threadId": thread_id}) == {"status": "unsubscribed"}
        other.wait_notification("thread/closed", lambda m: m["params"]["threadId"] == thread_id)
        assert thread_id not in owner.call("thread/loaded/list", {})["data"]

        assert server.terminate() == 0
        for client in (owner, other):
            client.wait_closed()
            client.assert_schema_clean()
    finally:
        server.kill()
