import anyio
import pytest

from rootstep.jsonrpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    JsonRpcError,
    LineReader,
    LineTooLong,
    Notification,
    Peer,
    Request,
    Response,
    parse_message,
)


def test_classifies_messages_and_tolerates_jsonrpc_member():
    assert isinstance(parse_message(b'{"jsonrpc":"2.0","id":"a","method":"x"}'), Request)
    assert isinstance(parse_message(b'{"method":"initialized"}'), Notification)
    assert parse_message(b'{"id":3,"result":{}}') == Response(id=3, result={})


@pytest.mark.parametrize(
    "line, code",
    [(b"{nope", PARSE_ERROR), (b"[]", INVALID_REQUEST), (b"5", INVALID_REQUEST),
     (b'{"id":true,"method":"m"}', INVALID_REQUEST)],
)
def test_bad_lines_raise_the_matching_code(line, code):
    with pytest.raises(JsonRpcError) as info:
        parse_message(line)
    assert info.value.code == code


def test_line_reader_skips_overlong_line_and_resumes():
    async def go():
        send, receive = anyio.create_memory_object_stream[bytes](10)
        from anyio.streams.stapled import StapledObjectStream  # noqa: F401

        class S(anyio.abc.ByteReceiveStream):
            async def receive(self, max_bytes=65536):
                try:
                    return await receive.receive()
                except anyio.EndOfStream:
                    raise

            async def aclose(self):
                pass

        await send.send(b"a" * 50 + b"\n" + b'{"x":1}\r\n\n')
        await send.send(b"tail")
        send.close()
        reader = LineReader(S(), max_line=10)
        got = []
        while True:
            try:
                got.append(await reader.__anext__())
            except LineTooLong as exc:
                got.append(("too long", exc.size))
            except StopAsyncIteration:
                break
        return got

    assert anyio.run(go) == [("too long", 50), b'{"x":1}', b"tail"]


def test_peer_correlates_responses_and_fails_pending_on_close():
    async def go():
        lines: list[bytes] = []

        async def write(line: bytes) -> None:
            lines.append(line)

        peer = Peer(write, first_id=1)
        results = {}

        async def call(name):
            try:
                results[name] = await peer.request(name, {"k": 1})
            except JsonRpcError as exc:
                results[name] = exc.code

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "a")
            tg.start_soon(call, "b")
            await anyio.wait_all_tasks_blocked()
            first = parse_message(lines[0])
            peer.resolve(Response(id=first.id, result={"ok": first.method}))
            await anyio.wait_all_tasks_blocked()
            peer.close()
        return results, lines

    results, lines = anyio.run(go)
    assert b'"jsonrpc"' not in lines[0]
    assert sorted(results.values(), key=str) == sorted([{"ok": parse_message(lines[0]).method}, -32000], key=str)
