"""The conversation list stays live on every socket: new messages in my other rooms arrive as
`activity` (through each worker's fan-out), rooms I join or leave as `conversation` frames, and
`GET /api/rooms/` gives the counts a client starts from."""

import threading
import time

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection, connections, transaction
from django.test import Client

from chat import messages, moderation, rooms, rows
from chat.models import Membership

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


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's writers wait for each other from BEGIN: the opening would read the row",
)
def test_a_first_visit_that_meets_another_one_joining_opens_with_its_membership(
    alice, carol, public_room
):
    """Two sockets of a new member open a public room at once: one's opening reads no
    membership and inserts one unless it exists (chat.rows.insert); the other's, not yet
    committed, makes it wait, then wins. The first opens with that membership, not a copy."""
    made, release = threading.Event(), threading.Event()

    def other_socket_joins() -> None:
        try:
            with transaction.atomic():
                Membership.objects.create(room=public_room, user=carol, role="moderator")
                made.set()
                release.wait(30)
        finally:
            connections.close_all()

    def opening() -> None:
        try:
            opened.append(rooms.open_room(user=carol, slug=public_room.slug)[1])
        finally:
            connections.close_all()

    opened: list[Membership] = []
    threads = [threading.Thread(target=other_socket_joins), threading.Thread(target=opening)]
    threads[0].start()
    assert made.wait(10)
    threads[1].start()
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute(waiting)
            if cursor.fetchone()[0]:
                break
            time.sleep(0.025)
        else:
            pytest.fail("the opening's INSERT never waited for the other transaction")
    release.set()
    for thread in threads:
        thread.join(10)
    stored = Membership.objects.get(room=public_room, user=carol)
    assert [(m.pk, m.role) for m in opened] == [(stored.pk, "moderator")]


def test_a_row_inserted_unless_it_exists_is_stored_once(alice, bob, public_room):
    first = Membership(room=public_room, user=bob)
    assert rows.insert(first, unless_exists=("room", "user"))
    again = Membership(room=public_room, user=bob, role=Membership.Role.MODERATOR)
    assert not rows.insert(again, unless_exists=("room", "user"))
    assert again.pk is None and again._state.adding
    stored = Membership.objects.get(room=public_room, user=bob)
    assert (stored.pk, stored.role, stored.joined) == (first.pk, "member", first.joined)


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
