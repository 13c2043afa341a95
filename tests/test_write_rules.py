"""Every rule of posting holds for every write: edits pass the checks `message.send` passes, are
rate limited and count as strikes; nobody rewrites another person's message; a block silences
edits and typing too."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from chat import blocks, messages, moderation, rooms
from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def _body(message_id: int) -> str:
    return Message.objects.get(pk=message_id).body


async def test_a_muted_member_cannot_edit_on_another_worker_and_a_flood_of_edits_is_cut_off(
    daphne, staff, alice, bob, members
):
    """The finding: muted for 24 h, in slow mode, 200 edits of 4 KB all reached the room."""
    old, _ = await sync_to_async(messages.post)(author=bob, room=members, body="before")
    await sync_to_async(moderation.mute)(
        actor=staff, room=members, user=bob, until=timezone.now() + timedelta(hours=24)
    )
    one, two = daphne(CHAT_FLOOD_STRIKES="5"), daphne()
    b = await one.connect(bob, members.slug)
    a = await two.connect(alice, members.slug)
    codes = []
    for _ in range(15):
        await b.send("message.edit", id=old.pk, body="x" * 4000)
        codes.append((await b.expect("error"))["code"])
    # The edit bucket's burst, each refused as a send would be; then the bucket is empty, and
    # after CHAT_FLOOD_STRIKES refusals in a row the socket is closed.
    assert codes == ["muted"] * 10 + ["rate_limited"] * 5
    assert await b.expect_close() == 4429
    await a.expect_silence(0.5)
    assert await sync_to_async(_body)(old.pk) == "before"


async def test_an_edit_obeys_the_posting_policy(open_socket, alice, bob, members):
    old, _ = await sync_to_async(messages.post)(author=bob, room=members, body="before")
    await sync_to_async(moderation.set_posting)(actor=alice, room=members, posting="moderators")
    b = await open_socket(bob, members.slug)
    await b.send("message.edit", id=old.pk, body="after")
    assert (await b.expect("error"))["code"] == "forbidden"
    assert await sync_to_async(_body)(old.pk) == "before"


async def test_slow_mode_counts_edits_as_writes(open_socket, alice, bob, members):
    await sync_to_async(moderation.set_slow_mode)(actor=alice, room=members, seconds=60)
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="first")
    message_id = (await b.expect("message"))["message"]["id"]
    await b.send("message.edit", id=message_id, body="rewritten at once")
    error = await b.expect("error")
    assert error["code"] == "rate_limited" and 55 < error["retry_after"] <= 60
    assert await sync_to_async(_body)(message_id) == "first"


async def test_an_edit_may_not_smuggle_in_what_a_send_may_not(open_socket, alice, bob, staff):
    """In a direct room, after a block: the edit of an old message and typing stay unheard."""
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    old, _ = await sync_to_async(messages.post)(author=bob, room=direct, body="hello")
    a = await open_socket(alice, direct.slug)
    b = await open_socket(bob, direct.slug)
    await sync_to_async(blocks.block)(blocker=alice, username="bob")
    await b.send("message.edit", id=old.pk, body="you cannot block me")
    assert (await b.expect("error"))["code"] == "forbidden"
    await b.send("typing")
    assert (await b.expect("error"))["code"] == "forbidden"
    await a.expect_silence(0.5)
    assert await sync_to_async(_body)(old.pk) == "hello"


async def test_typing_is_heard_while_nobody_blocks(open_socket, alice, bob):
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    a = await open_socket(alice, direct.slug)
    b = await open_socket(bob, direct.slug)
    await b.send("typing")
    assert (await a.expect("typing"))["user"] == "bob"


async def test_nobody_rewrites_another_persons_message_not_even_the_owner(
    open_socket, alice, bob, staff, members
):
    """The finding: any room owner could rewrite anyone's message, staff's included, unlogged.
    Moderators delete instead."""
    theirs, _ = await sync_to_async(messages.post)(author=bob, room=members, body="mine")
    a = await open_socket(alice, members.slug)
    await a.send("message.edit", id=theirs.pk, body="the owner's words")
    assert (await a.expect("error"))["code"] == "forbidden"
    await sync_to_async(rooms.open_room)(user=staff, slug=members.slug)
    s = await open_socket(staff, members.slug)
    await s.send("message.edit", id=theirs.pk, body="staff's words")
    assert (await s.expect("error"))["code"] == "forbidden"
    assert await sync_to_async(_body)(theirs.pk) == "mine"
    await a.send("message.delete", id=theirs.pk)
    assert (await a.recv_type("message.deleted"))["id"] == theirs.pk


async def test_the_author_still_edits_their_own_message(open_socket, bob, members):
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="typo")
    message_id = (await b.expect("message"))["message"]["id"]
    await b.send("message.edit", id=message_id, body="fixed")
    edited = (await b.expect("message.edited"))["message"]
    assert edited["body"] == "fixed" and edited["edited"] is not None
