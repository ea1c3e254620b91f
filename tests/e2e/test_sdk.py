"""The official ``openai-codex`` Python SDK drives ``rootstep app-server``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import descendants
from tests.fixtures.mock_model import MockModel, assistant_text, failed_response, held_text

openai_codex = pytest.importorskip("openai_codex")

pytestmark = pytest.mark.timeout(90)


def _config(codex_home: Path):
    return openai_codex.CodexConfig(
        launch_args_override=(sys.executable, "-m", "rootstep", "app-server", "--listen", "stdio://"),
        env={"CODEX_HOME": str(codex_home)},
        cwd=str(codex_home),
    )


@pytest.fixture
def codex(codex_home: Path):
    before = descendants()
    client = openai_codex.Codex(_config(codex_home))
    try:
        yield client
    finally:
        client.close()
    assert descendants() - before == set()


def test_sdk_start_thread_run_turn_and_stream(codex, model: MockModel) -> None:
    assert codex.metadata.userAgent.startswith("codex_python_sdk/")
    model.queue(
        assistant_text("Hello from rootstep", deltas=["Hello", " from", " rootstep"], usage=(20, 5)),
        assistant_text("Second", deltas=["Sec", "ond"]),
    )
    thread = codex.thread_start(model="mock-model")
    result = thread.run("Say hello")
    assert result.status.value == "completed"
    assert result.final_response == "Hello from rootstep"
    assert result.usage is not None and result.usage.total.input_tokens == 20

    handle = thread.turn("again")
    events = list(handle.stream())
    methods = [e.method for e in events]
    assert methods[-1] == "turn/completed"
    deltas = [e.payload.delta for e in events if e.method == "item/agentMessage/delta"]
    assert deltas == ["Sec", "ond"]
    assert model.requests[1].input_texts() == ["Say hello", "again"]


def test_sdk_failed_turn_raises_with_model_message(codex, model: MockModel) -> None:
    model.queue(failed_response("quota exceeded"))
    thread = codex.thread_start(model="mock-model")
    with pytest.raises(RuntimeError, match="quota exceeded"):
        thread.run("hi")


def test_sdk_interrupt(codex, model: MockModel) -> None:
    held = held_text("slow", deltas=["sl", "ow"])
    model.queue(held)
    thread = codex.thread_start(model="mock-model")
    handle = thread.turn("take your time")
    assert held.reached_hold.wait(15)
    handle.interrupt()
    events = list(handle.stream())
    completed = [e for e in events if e.method == "turn/completed"][-1]
    assert completed.payload.turn.status.value == "interrupted"


def test_sdk_resume_read_list(codex_home: Path, model: MockModel) -> None:
    model.queue(assistant_text("first"), assistant_text("after resume"))
    with openai_codex.Codex(_config(codex_home)) as codex:
        thread = codex.thread_start(model="mock-model")
        thread.run("remember me")
        thread.set_name("Memorable")
        thread_id = thread.id
    with openai_codex.Codex(_config(codex_home)) as codex:
        listed = codex.thread_list()
        assert [t.id for t in listed.data] == [thread_id]
        resumed = codex.thread_resume(thread_id)
        read = resumed.read(include_turns=True)
        assert read.thread.name == "Memorable"
        assert len(read.thread.turns) == 1
        result = resumed.run("still there?")
        assert result.final_response == "after resume"
        models = codex.models()
        assert models.data and models.data[0].is_default
    assert model.requests[1].input_texts() == ["remember me", "still there?"]


def test_async_sdk_runs_a_turn(codex_home: Path, model: MockModel) -> None:
    import anyio

    model.queue(assistant_text("async hello", deltas=["async", " hello"]))

    async def main() -> str | None:
        async with openai_codex.AsyncCodex(_config(codex_home)) as codex:
            thread = await codex.thread_start(model="mock-model")
            result = await thread.run("hi")
            return result.final_response

    before = descendants()
    assert anyio.run(main) == "async hello"
    assert descendants() - before == set()
