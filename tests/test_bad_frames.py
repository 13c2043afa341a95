"""Every malformed or hostile frame gets an `error` frame, and the socket keeps working."""

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 20_000 + "]" * 20_000  # under the size limit, far past the recursion limit

BAD_TEXT_FRAMES = [
    ("not json", "{nope", "invalid"),
    ("empty", "", "invalid"),
    ("whitespace", "   \n", "invalid"),
    ("array", "[1, 2]", "invalid"),
    ("string", '"message.send"', "invalid"),
    ("number", "42", "invalid"),
    ("null", "null", "invalid"),
    ("no type", '{"body": "hi"}', "invalid"),
    ("type not a string", '{"type": 7}', "invalid"),
    ("unknown type", '{"type": "launch.missiles"}', "unknown_type"),
    ("handler name: connect", '{"type": "websocket.connect"}', "unknown_type"),
    ("handler name: disconnect", '{"type": "websocket.disconnect"}', "unknown_type"),
    ("handler name: layer event", '{"type": "chat.close", "code": 1000}', "unknown_type"),
    ("handler name: layer frame", '{"type": "chat.frame", "text": "x"}', "unknown_type"),
    ("method name", '{"type": "on_send", "body": "x"}', "unknown_type"),
    ("dunder", '{"type": "__init__"}', "unknown_type"),
    ("body missing", '{"type": "message.send"}', "invalid"),
    ("body a number", '{"type": "message.send", "body": 5}', "invalid"),
    ("body an object", '{"type": "message.send", "body": {"a": 1}}', "invalid"),
    ("body empty", '{"type": "message.send", "body": ""}', "invalid"),
    ("body only spaces", '{"type": "message.send", "body": "   \\n\\t "}', "invalid"),
    ("body too long", json.dumps({"type": "message.send", "body": "x" * 4001}), "too_long"),
    ("body NUL", '{"type": "message.send", "body": "a\\u0000b"}', "invalid"),
    ("body lone surrogate", '{"type": "message.send", "body": "a\\ud800b"}', "invalid"),
    ("NaN", '{"type": "message.send", "body": "x", "client_id": NaN}', "invalid"),
    ("Infinity", '{"type": "history", "limit": Infinity}', "invalid"),
    ("client_id not a string", '{"type": "message.send", "body": "x", "client_id": 3}', "invalid"),
    (
        "client_id too long",
        json.dumps({"type": "message.send", "body": "x", "client_id": "c" * 65}),
        "too_long",
    ),
    ("deep nesting", '{"type": "ping", "x": ' + DEEP + "}", "invalid"),
    ("moderate nesting", '{"type": "ping", "x": [[[[[[1]]]]]]}', "invalid"),
    ("huge integer id", '{"type": "message.delete", "id": ' + "9" * 30 + "}", "invalid"),
    ("absurd integer", '{"type": "message.delete", "id": ' + "9" * 5000 + "}", "invalid"),
    ("id a string", '{"type": "message.delete", "id": "1"}', "invalid"),
    ("id a bool", '{"type": "message.delete", "id": true}', "invalid"),
    ("id a float", '{"type": "message.delete", "id": 1.5}', "invalid"),
    ("id zero", '{"type": "message.delete", "id": 0}', "invalid"),
    ("id negative", '{"type": "read", "id": -4}', "invalid"),
    ("edit without body", '{"type": "message.edit", "id": 1}', "invalid"),
    ("history limit zero", '{"type": "history", "limit": 0}', "invalid"),
    ("history limit 101", '{"type": "history", "limit": 101}', "invalid"),
    ("history both ways", '{"type": "history", "before": 5, "after": 2}', "invalid"),
    ("frame over 64 KiB", json.dumps({"type": "ping", "pad": "x" * 70_000}), "too_long"),
    (
        "one megabyte body",
        json.dumps({"type": "message.send", "body": "y" * 1_000_000}),
        "too_long",
    ),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [(t, c) for _, t, c in BAD_TEXT_FRAMES],
    ids=[n for n, _, _ in BAD_TEXT_FRAMES],
)
async def test_bad_text_frame_answers_an_error_and_the_socket_stays_open(
    open_socket, alice, public_room, text, code
):
    sock = await open_socket(alice, public_room.slug)
    await sock.send_text(text)
    error = await sock.expect("error")
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    await sock.roundtrip()
    await sock.send("message.send", body="still here")
    assert (await sock.expect("message"))["message"]["body"] == "still here"
    assert await sync_to_async(Message.objects.count)() == 1


async def test_binary_frame_answers_invalid_and_the_socket_stays_open(
    open_socket, alice, public_room
):
    sock = await open_socket(alice, public_room.slug)
    await sock.send_bytes(b'{"type": "ping"}')
    assert (await sock.expect("error"))["code"] == "invalid"
    await sock.roundtrip()


async def test_a_storm_of_bad_frames_leaves_the_socket_usable(open_socket, alice, public_room):
    sock = await open_socket(alice, public_room.slug)
    for _, text, code in BAD_TEXT_FRAMES:
        await sock.send_text(text)
        assert (await sock.expect("error"))["code"] == code
    await sock.roundtrip()
