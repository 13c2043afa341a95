"""Client frames over a real socket on the real ASGI application, and what every socket sees."""

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat import messages
from chat.models import Membership, Message

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_sent_message_is_stored_and_reaches_every_socket_once(
    open_socket, alice, bob, public_room
):
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="  hello there  ", client_id="c-1")
    for sock in (a, b):
        frame = await sock.expect("message")
        assert frame["message"]["body"] == "hello there"  # trimmed
        assert frame["message"]["author"] == "alice"
        assert frame["message"]["client_id"] == "c-1"
        await sock.expect_silence()
    stored = await sync_to_async(Message.objects.get)()
    assert stored.body == "hello there" and stored.pk == frame["message"]["id"]


async def test_a_repeated_client_id_stores_nothing_new_and_resends_the_original(
    open_socket, alice, bob, public_room
):
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="once", client_id="same")
    first = (await a.expect("message"))["message"]
    await b.expect("message")
    await a.send("message.send", body="once again?", client_id="same")
    again = (await a.expect("message"))["message"]
    assert again == first
    # The room hears the original again (its broadcast may have died with a worker); clients
    # drop it by id.
    assert (await b.expect("message"))["message"] == first
    await a.expect_silence()
    assert await sync_to_async(Message.objects.count)() == 1


async def test_the_same_client_id_from_another_author_is_a_new_message(
    open_socket, alice, bob, public_room
):
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="from alice", client_id="x")
    await b.send("message.send", body="from bob", client_id="x")
    bodies = {(await a.expect("message"))["message"]["body"] for _ in range(2)}
    assert bodies == {"from alice", "from bob"}


async def test_the_author_edits_and_deletes_their_message(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="typo")
    message_id = (await a.expect("message"))["message"]["id"]
    await b.expect("message")
    await a.send("message.edit", id=message_id, body="fixed")
    for sock in (a, b):
        edited = (await sock.expect("message.edited"))["message"]
        assert edited["body"] == "fixed" and edited["edited"] is not None
    await a.send("message.delete", id=message_id)
    for sock in (a, b):
        assert (await sock.expect("message.deleted"))["id"] == message_id
    await a.send("history")
    assert (await a.expect("history"))["messages"] == []


async def test_others_may_not_edit_or_delete(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="mine")
    message_id = (await b.expect("message"))["message"]["id"]
    await b.send("message.edit", id=message_id, body="yours now")
    assert (await b.expect("error"))["code"] == "forbidden"
    await b.send("message.delete", id=message_id)
    assert (await b.expect("error"))["code"] == "forbidden"
    stored = await sync_to_async(Message.objects.get)(pk=message_id)
    assert stored.body == "mine" and stored.deleted is None


async def test_the_room_owner_as_moderator_deletes_any_message(
    open_socket, alice, bob, public_room
):
    b = await open_socket(bob, public_room.slug)
    a = await open_socket(alice, public_room.slug)  # alice created the room: owner
    await b.send("message.send", body="spam")
    message_id = (await a.expect("message"))["message"]["id"]
    await b.expect("message")
    await a.send("message.delete", id=message_id)
    assert (await b.expect("message.deleted"))["id"] == message_id


async def test_editing_or_deleting_a_message_of_another_room_is_not_found(
    open_socket, alice, public_room, private_room
):
    other, _ = await sync_to_async(messages.post)(author=alice, room=private_room, body="x")
    a = await open_socket(alice, public_room.slug)
    await a.send("message.delete", id=other.pk)
    assert (await a.expect("error"))["code"] == "not_found"
    await a.send("message.edit", id=other.pk, body="y")
    assert (await a.expect("error"))["code"] == "not_found"


async def test_typing_reaches_the_others_at_most_once_per_interval(
    open_socket, alice, bob, public_room
):
    a = await open_socket(alice, public_room.slug)
    a2 = await open_socket(alice, public_room.slug)  # alice's second tab
    b = await open_socket(bob, public_room.slug)
    await a.send("typing")
    await a2.send("typing")
    frames = await _collect(b, 0.5)
    assert [f for f in frames if f["type"] == "typing"] == [{"type": "typing", "user": "alice"}]
    assert not [f for f in await _collect(a, 0.2) if f["type"] == "typing"]


async def _collect(sock, seconds: float) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await sock.recv(timeout=seconds))
    except TimeoutError:
        return frames


async def test_ping_answers_pong(open_socket, alice, public_room):
    a = await open_socket(alice, public_room.slug)
    await a.roundtrip()


async def test_read_moves_the_mark_forward_only(open_socket, alice, bob, public_room):
    first, _ = await sync_to_async(messages.post)(author=alice, room=public_room, body="1")
    second, _ = await sync_to_async(messages.post)(author=alice, room=public_room, body="2")
    b = await open_socket(bob, public_room.slug)
    await b.send("read", id=second.pk)
    await b.send("read", id=first.pk)
    await b.roundtrip()
    member = await sync_to_async(Membership.objects.get)(user=bob, room=public_room)
    assert member.last_read == second.pk
    again = await open_socket(bob, public_room.slug)
    assert again.ready["last_read"] == second.pk


async def test_read_of_a_message_elsewhere_is_not_found(
    open_socket, alice, public_room, private_room
):
    other, _ = await sync_to_async(messages.post)(author=alice, room=private_room, body="x")
    a = await open_socket(alice, public_room.slug)
    await a.send("read", id=other.pk)
    assert (await a.expect("error"))["code"] == "not_found"


async def test_sending_past_the_rate_limit_answers_rate_limited_with_retry_after(
    open_socket, alice, public_room, settings
):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "message": (10, 10.0)}
    a = await open_socket(alice, public_room.slug)
    for n in range(10):  # the default burst
        await a.send("message.send", body=f"burst {n}")
        await a.expect("message")
    await a.send("message.send", body="one too many")
    error = await a.expect("error")
    assert error["code"] == "rate_limited" and 0 < error["retry_after"] <= 1.0
    await a.roundtrip()
    assert await sync_to_async(Message.objects.count)() == 10


async def test_a_frame_cannot_name_another_room(open_socket, alice, public_room, private_room):
    a = await open_socket(alice, public_room.slug)
    await a.send("message.send", body="here", room=private_room.slug, author="bob")
    message = (await a.expect("message"))["message"]
    assert message["room"] == public_room.slug and message["author"] == "alice"
