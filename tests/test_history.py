"""History pages over the socket: newest, before, after, limits and `has_more`."""

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat import bots, messages, rooms

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def five(alice, public_room) -> list[int]:
    return [messages.post(author=alice, room=public_room, body=f"m{n}")[0].pk for n in range(5)]


async def _page(sock, **fields) -> tuple[list[str], bool]:
    await sock.send("history", **fields)
    frame = await sock.expect("history")
    return [m["body"] for m in frame["messages"]], frame["has_more"]


async def test_newest_page_oldest_first(open_socket, alice, public_room, five):
    sock = await open_socket(alice, public_room.slug)
    assert await _page(sock) == (["m0", "m1", "m2", "m3", "m4"], False)
    assert await _page(sock, limit=2) == (["m3", "m4"], True)


async def test_after_zero_starts_from_the_rooms_first_message(
    open_socket, client, alice, public_room, five
):
    """What a client that has seen nothing asks (the contract); it was refused as invalid."""
    sock = await open_socket(alice, public_room.slug)
    assert await _page(sock, after=0, limit=2) == (["m0", "m1"], True)
    await sync_to_async(client.force_login)(alice)
    page = await sync_to_async(client.get)(f"/api/rooms/{public_room.slug}/messages/?after=0")
    assert [m["body"] for m in page.json()["messages"]] == ["m0", "m1", "m2", "m3", "m4"]


async def test_a_page_of_long_messages_holds_what_fits_in_a_frame_and_says_has_more(
    open_socket, alice, public_room
):
    """Daphne refuses to send a frame over 256 KiB: 100 messages of 4,000 Chinese characters
    (12 KB each) failed with a server error."""
    for _ in range(30):
        await sync_to_async(messages.post)(author=alice, room=public_room, body="聊" * 4000)
    sock = await open_socket(alice, public_room.slug)
    assert 0 < len(sock.ready["messages"]) < 30
    await sock.send("history", after=0, limit=100)
    first = await sock.expect("history")
    assert 0 < len(first["messages"]) < 30 and first["has_more"]
    seen = [m["id"] for m in first["messages"]]
    while True:
        await sock.send("history", after=seen[-1], limit=100)
        page = await sock.expect("history")
        seen += [m["id"] for m in page["messages"]]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 30


async def test_before_pages_backwards(open_socket, alice, public_room, five):
    sock = await open_socket(alice, public_room.slug)
    assert await _page(sock, before=five[3], limit=2) == (["m1", "m2"], True)
    assert await _page(sock, before=five[1], limit=2) == (["m0"], False)


async def test_after_pages_forwards_until_has_more_is_false(open_socket, alice, public_room, five):
    sock = await open_socket(alice, public_room.slug)
    assert await _page(sock, after=five[0], limit=2) == (["m1", "m2"], True)
    assert await _page(sock, after=five[2], limit=2) == (["m3", "m4"], False)
    assert await _page(sock, after=five[4]) == ([], False)


async def test_deleted_messages_are_never_served_again(open_socket, alice, public_room, five):
    await sync_to_async(messages.delete)(actor=alice, room=public_room, message_id=five[2])
    sock = await open_socket(alice, public_room.slug)
    assert "m2" not in [m["body"] for m in sock.ready["messages"]]
    assert await _page(sock) == (["m0", "m1", "m3", "m4"], False)


async def test_ids_grow_with_time_within_a_room(open_socket, alice, public_room, five):
    assert five == sorted(five)


async def test_reconnecting_client_gets_exactly_what_it_missed(
    open_socket, alice, bob, public_room
):
    """A client drops, others talk, it reconnects and asks `history after=<last id>`."""
    b = await open_socket(bob, public_room.slug)
    a = await open_socket(alice, public_room.slug)
    await a.send("message.send", body="before the drop")
    last_seen = (await b.expect("message"))["message"]["id"]
    await b.close()
    for n in range(7):
        await a.send("message.send", body=f"missed {n}")
        await a.expect("message")
    b = await open_socket(bob, public_room.slug)
    missed, has_more = [], True
    after = last_seen
    while has_more:
        await b.send("history", after=after, limit=3)
        page = await b.expect("history")
        missed += [m["body"] for m in page["messages"]]
        after = page["messages"][-1]["id"] if page["messages"] else after
        has_more = page["has_more"]
    assert missed == [f"missed {n}" for n in range(7)]


async def test_every_page_shows_each_message_as_its_live_frame_did(
    open_socket, alice, bob, members
):
    """Pages are read by one plain statement (chat.pages), live frames from the stored row:
    a bot's message, a reply to it and a reply to a deleted message read back the same."""
    bot = await sync_to_async(bots.create)(owner=alice, username="helper")
    await sync_to_async(rooms.open_room)(user=bot.user, slug=members.slug)
    b = await open_socket(bob, members.slug)
    gone, _ = await sync_to_async(messages.post)(author=alice, room=members, body="soon gone")
    beep, _ = await sync_to_async(messages.post)(author=bot.user, room=members, body="**beep**")
    await sync_to_async(messages.post)(
        author=alice, room=members, body="a reply to the bot", reply_to=beep.pk
    )
    await sync_to_async(messages.post)(
        author=bob, room=members, body="a reply to the gone", reply_to=gone.pk
    )
    await sync_to_async(messages.delete)(actor=alice, room=members, message_id=gone.pk)
    live = {}
    while len(live) < 4:
        frame = await b.recv_type("message")
        live[frame["message"]["id"]] = frame["message"]
    await b.recv_type("message.deleted")
    del live[gone.pk]
    for message in live.values():
        if message["reply_to"] and message["reply_to"]["id"] == gone.pk:
            message["reply_to"] = {"id": gone.pk, "author": None, "excerpt": None}
    assert live[beep.pk]["author_bot"] is True
    expected = sorted(live.values(), key=lambda m: m["id"])

    fresh = await open_socket(alice, members.slug)
    assert fresh.ready["messages"] == expected
    for fields in ({}, {"after": 0}, {"before": expected[-1]["id"] + 1}):
        await b.send("history", **fields)
        assert (await b.expect("history"))["messages"] == expected
    await b.send("history", around=beep.pk, limit=6)
    assert (await b.expect("history"))["messages"] == expected
