"""The handshake: who gets in, who is refused and with which close code, and `ready`."""

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat import messages

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ready_describes_room_me_members_and_recent_messages(
    open_socket, alice, bob, public_room
):
    await sync_to_async(messages.post)(author=alice, room=public_room, body="first")
    sock = await open_socket(bob, public_room.slug)
    ready = sock.ready
    assert ready["room"] == {
        "slug": "general",
        "name": "General",
        "kind": "public",
        "topic": "",
        "slow_mode": 0,  # extensions: the room's moderation settings
        "posting": "everyone",
    }
    assert ready["me"] == {"username": "bob", "role": "member", "moderator": False}
    assert ready["members"] == ["alice", "bob"]  # opening a public room made bob a member
    assert ready["online"] == ["bob"]
    assert [m["body"] for m in ready["messages"]] == ["first"]
    assert ready["last_read"] is None
    message = ready["messages"][0]
    assert set(message) == {
        "id",
        "room",
        "author",
        "author_bot",
        "body",
        "html",
        "created",
        "edited",
        "client_id",
        "reply_to",
        "attachments",
        "reactions",
    }
    assert message["room"] == "general" and message["author"] == "alice"
    assert message["created"].endswith("Z") and message["edited"] is None


async def test_ready_holds_the_last_50_messages_oldest_first(open_socket, alice, public_room):
    for n in range(55):
        await sync_to_async(messages.post)(author=alice, room=public_room, body=f"m{n}")
    sock = await open_socket(alice, public_room.slug)
    assert [m["body"] for m in sock.ready["messages"]] == [f"m{n}" for n in range(5, 55)]


async def test_anonymous_socket_closes_with_4401(open_socket, public_room):
    sock = await open_socket(None, public_room.slug, expect_ready=False)
    assert sock.accepted
    assert await sock.expect_close() == 4401


async def test_unknown_room_closes_with_4404(open_socket, alice):
    sock = await open_socket(alice, "no-such-room", expect_ready=False)
    assert await sock.expect_close() == 4404


async def test_private_room_refuses_non_members_with_4403(open_socket, bob, private_room):
    sock = await open_socket(bob, private_room.slug, expect_ready=False)
    assert await sock.expect_close() == 4403


async def test_private_room_admits_its_members(open_socket, alice, private_room):
    sock = await open_socket(alice, private_room.slug)
    assert sock.ready["room"]["kind"] == "private"


async def test_deactivated_user_is_refused_with_4401(open_socket, alice, public_room):
    alice.is_active = False
    await sync_to_async(alice.save)()
    sock = await open_socket(alice, public_room.slug, expect_ready=False)
    assert await sock.expect_close() == 4401


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_foreign_or_missing_origin_is_refused_at_the_handshake(
    open_socket, alice, public_room, origin
):
    sock = await open_socket(alice, public_room.slug, origin=origin, expect_ready=False)
    assert not sock.accepted  # refused before accept: Daphne answers HTTP 403
