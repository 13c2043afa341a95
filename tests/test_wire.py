"""Frames written straight to Daphne's sockets (chat.wire): what clients read is what
autobahn would have sent, at every size a frame's length takes."""

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from chat import messages, wire


def _parsed(data: bytes) -> Frame:
    """The frame as the websockets client reads one from a server."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the frame is incomplete")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_text_frame_reads_back_as_its_text_at_every_length(size):
    text = ("聊天" * size)[: size // 3] + "x" * (size % 3)  # `size` bytes in UTF-8, or near
    frame = _parsed(wire.text_frame(text))
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode() == text


@pytest.mark.django_db(transaction=True)
async def test_long_chinese_messages_reach_network_sockets_whole(daphne, alice, bob, members):
    """`ready` with a page of long messages is a frame of over 64 KiB (the longest length
    form), a message of 4,000 Chinese characters one of 12 KB (the middle one); both read
    back whole in a real client, and the room's next message after them too."""
    body = ("这是一条很长的中文消息，" * 400)[:4000]
    for _ in range(20):
        await sync_to_async(messages.post)(author=alice, room=members, body=body)
    worker = daphne()
    a = await worker.connect(alice, members.slug)
    b = await worker.connect(bob, members.slug)
    for sock in (a, b):
        page = sock.ready["messages"]  # as many as fit in protocol.MESSAGES_BUDGET
        assert len(page) >= 3 and {m["body"] for m in page} == {body}
        assert len(json.dumps(sock.ready, ensure_ascii=False).encode()) > 65536
    await a.send("message.send", body=body, client_id="long-1")
    await a.send("message.send", body="短", client_id="short-2")
    for sock in (a, b):
        assert (await sock.expect("message"))["message"]["body"] == body
        assert (await sock.expect("message"))["message"]["body"] == "短"
        await sock.expect_silence(0.3)
