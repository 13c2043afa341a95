"""The conversation list stays live on every socket: new messages in my other rooms arrive as
`activity` (through each worker's fan-out), rooms I join or leave as `conversation` frames, and
`GET /api/rooms/` gives the counts a client starts from."""

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from chat import messages, moderation, rooms

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _listed(user) -> dict[str, dict]:
    return {room["slug"]: room for room in _client(user).get("/api/rooms/").json()["rooms"]}


@pytest.fixture
def workers(redis_layer, daphne):
    return daphne(), daphne()


async def test_a_message_elsewhere_reaches_my_socket_on_another_room_as_activity(
    workers, alice, bob, members, private_room
):
    one, two = workers
    await sync_to_async(rooms.add_member)(actor=alice, room=private_room, username="bob")
    on_private = await two.connect(bob, private_room.slug)  # bob reads the private room
    lobby = await two.connect(bob, path="/ws/lobby/")
    author = await one.connect(alice, members.slug)
    await author.send("message.send", body="news in general")
    sent = (await author.expect("message"))["message"]
    for sock in (on_private, lobby):
        activity = await sock.recv_type("activity", timeout=2)
        assert activity == {
            "type": "activity",
            "room": members.slug,
            "id": sent["id"],
            "author": "alice",
        }
    # On the room itself bob hears the message, not activity; his own posts are not activity.
    on_general = await one.connect(bob, members.slug)
    await on_general.send("message.send", body="mine")
    await on_general.expect("message")
    await on_private.expect_silence(0.5)
    for sock in (on_private, lobby, on_general):
        await sock.roundtrip()


async def test_joining_and_leaving_rooms_reach_my_other_sockets(
    workers, staff, alice, bob, members, private_room
):
    one, two = workers
    lobby = await two.connect(bob, path="/ws/lobby/")
    await sync_to_async(rooms.add_member)(actor=alice, room=private_room, username="bob")
    joined = await lobby.recv_type("conversation", timeout=2)
    assert joined["room"]["slug"] == private_room.slug and joined["title"] == private_room.name
    author = await one.connect(alice, private_room.slug)
    await author.send("message.send", body="welcome")
    assert (await lobby.recv_type("activity", timeout=2))["room"] == private_room.slug
    await sync_to_async(moderation.remove_member)(actor=alice, room=private_room, user=bob)
    removed = await lobby.recv_type("conversation.removed", timeout=2)
    assert removed == {"type": "conversation.removed", "room": private_room.slug}
    await author.send("message.send", body="after bob left")
    await author.expect("message")
    await sync_to_async(moderation.ban)(actor=staff, room=members, user=bob)
    assert (await lobby.recv_type("conversation.removed", timeout=2))["room"] == members.slug
    general = await one.connect(alice, members.slug)
    await general.send("message.send", body="@bob are you there?")
    await general.expect("message")
    await lobby.expect_silence(1.0)  # nothing of either room, not even the mention


async def test_a_direct_conversation_started_with_me_joins_my_sidebar(workers, alice, bob):
    _, two = workers
    lobby = await two.connect(bob, path="/ws/lobby/")
    await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    joined = await lobby.recv_type("conversation", timeout=2)
    assert joined["room"]["kind"] == "direct" and joined["title"] == "alice"


def test_the_rooms_api_counts_unread_messages_and_mentions(alice, bob, carol, members):
    rooms.open_room(user=carol, slug=members.slug)
    first, _ = messages.post(author=alice, room=members, body="hello all")
    messages.post(author=alice, room=members, body="@bob look")
    messages.post(author=carol, room=members, body="@bob and again")
    messages.post(author=bob, room=members, body="@bob my own does not count")
    general = _listed(bob)[members.slug]
    assert (general["unread"], general["mentions"], general["joined"]) == (3, 2, True)
    messages.mark_read(user=bob, room=members, message_id=first.pk)
    assert (_listed(bob)[members.slug]["unread"], _listed(bob)[members.slug]["mentions"]) == (2, 2)
    other = rooms.create_room(creator=carol, name="Elsewhere", kind="public")
    assert _listed(bob)[other.slug] | {"last_id": None} == {
        "slug": other.slug,
        "name": "Elsewhere",
        "kind": "public",
        "topic": "",
        "title": "Elsewhere",
        "unread": 0,
        "mentions": 0,
        "joined": False,
        "last_id": None,
    }
    assert Client().get("/api/rooms/").status_code == 401
