"""Direct messages, mentions, notifications, unread counts, read receipts and blocking."""

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from chat import blocks, messages, policy, richtext, rooms
from chat.models import Membership, Message, Room

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# /dm/<username>/ and who may reach a direct room


def test_dm_page_creates_the_pair_s_room_once(alice, bob):
    first = _client(alice).get("/dm/bob/")
    again = _client(bob).get("/dm/alice/")
    slug = rooms.direct_slug(alice, bob)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/rooms/{slug}/"
    room = Room.objects.get()
    assert room.kind == "direct" and slug == f"dm-{min(alice.pk, bob.pk)}-{max(alice.pk, bob.pk)}"
    assert sorted(
        Membership.objects.filter(room=room).values_list("user__username", flat=True)
    ) == [
        "alice",
        "bob",
    ]


def test_dm_page_for_an_unknown_user_is_404_and_for_myself_says_why(alice):
    assert _client(alice).get("/dm/nobody/").status_code == 404
    response = _client(alice).get("/dm/alice/", follow=True)
    assert b"yourself" in response.content
    assert not Room.objects.exists()


def test_a_direct_room_is_never_listed_as_public(alice, bob, carol):
    rooms.direct_room(user=alice, other=bob)
    listed = _client(carol).get("/api/rooms/").json()["rooms"]
    assert [room["kind"] for room in listed] == []
    assert _client(carol).get("/").context["conversations"] == []


async def test_a_third_person_is_refused_over_http_and_the_socket(open_socket, alice, bob, carol):
    room = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    carol_client = await sync_to_async(_client)(carol)
    page = await sync_to_async(carol_client.get)(f"/rooms/{room.slug}/")
    api = await sync_to_async(carol_client.get)(f"/api/rooms/{room.slug}/messages/")
    assert page.status_code == 403 and api.status_code == 403
    sock = await open_socket(carol, room.slug, expect_ready=False)
    assert await sock.expect_close() == 4403


# dm.send


async def test_dm_send_reaches_the_room_as_message_and_other_sockets_as_notify_once_each(
    open_socket, alice, bob, public_room
):
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    alice_elsewhere = await open_socket(alice, public_room.slug)
    bob_in_dm = await open_socket(bob, direct.slug)
    bob_elsewhere = await open_socket(bob, public_room.slug)
    await alice_elsewhere.send("dm.send", to="bob", body="psst", client_id="d-1")
    message = (await bob_in_dm.expect("message"))["message"]
    assert message["body"] == "psst" and message["room"] == direct.slug
    notify = await bob_elsewhere.expect("notify")
    assert notify == {
        "type": "notify",
        "room": direct.slug,
        "room_name": "alice & bob",
        "room_kind": "direct",
        "message": message,
    }
    mine = await alice_elsewhere.expect("notify")  # the sender's other sockets follow it too
    assert mine["message"]["client_id"] == "d-1"
    for sock in (bob_in_dm, bob_elsewhere, alice_elsewhere):
        await sock.expect_silence(0.3)


async def test_dm_send_creates_the_direct_room_on_first_use(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    await a.send("dm.send", to="bob", body="hello")
    notify = await a.expect("notify")
    room = await sync_to_async(Room.objects.get)(kind="direct")
    assert notify["room"] == room.slug


async def test_a_repeated_dm_client_id_stores_once_and_echoes_the_original(
    open_socket, alice, bob, public_room
):
    a = await open_socket(alice, public_room.slug)
    await a.send("dm.send", to="bob", body="once", client_id="same")
    first = (await a.expect("notify"))["message"]
    await a.send("dm.send", to="bob", body="once", client_id="same")
    assert (await a.expect("notify"))["message"] == first
    assert await sync_to_async(Message.objects.count)() == 1


@pytest.mark.parametrize(
    ("to", "code"), [("nobody", "not_found"), ("alice", "invalid"), ("", "not_found")]
)
async def test_dm_send_to_nobody_or_myself_is_refused(open_socket, alice, public_room, to, code):
    a = await open_socket(alice, public_room.slug)
    await a.send("dm.send", to=to, body="hi")
    assert (await a.expect("error"))["code"] == code
    await a.roundtrip()
    assert await sync_to_async(Message.objects.count)() == 0


async def test_dm_send_checks_its_fields(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    for frame in ({"body": "x"}, {"to": 5, "body": "x"}, {"to": "bob"}, {"to": "bob", "body": ""}):
        await a.send("dm.send", **frame)
        assert (await a.expect("error"))["code"] == "invalid"
    await a.send("dm.send", to="bob", body="x" * 4001)
    assert (await a.expect("error"))["code"] == "too_long"


# Blocking


@pytest.mark.parametrize("who_blocks", ["recipient", "sender"])
async def test_a_block_refuses_dm_send_and_stores_nothing(
    open_socket, alice, bob, public_room, who_blocks
):
    blocker, blocked = (bob, alice) if who_blocks == "recipient" else (alice, bob)
    await sync_to_async(blocks.block)(blocker=blocker, username=blocked.username)
    a = await open_socket(alice, public_room.slug)
    await a.send("dm.send", to="bob", body="let me in")
    error = await a.expect("error")
    assert error["code"] == "forbidden" and "bob" not in error["message"].lower().replace(
        "you cannot message this user.", ""
    )
    assert await sync_to_async(Message.objects.count)() == 0


async def test_a_block_also_refuses_message_send_inside_an_existing_direct_room(
    open_socket, alice, bob
):
    room = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    a = await open_socket(alice, room.slug)
    await sync_to_async(blocks.block)(blocker=bob, username="alice")
    await a.send("message.send", body="still?")
    assert (await a.expect("error"))["code"] == "forbidden"
    assert await sync_to_async(Message.objects.count)() == 0


def test_blocked_users_get_403_on_the_dm_page(alice, bob):
    blocks.block(blocker=bob, username="alice")
    assert _client(alice).get("/dm/bob/").status_code == 403
    assert _client(bob).get("/dm/alice/").status_code == 403
    assert not Room.objects.exists()


def test_the_blocks_page_blocks_and_unblocks(alice, bob):
    client = _client(alice)
    assert client.get("/settings/blocks/").status_code == 200
    assert client.post("/settings/blocks/", {"username": "bob"}).status_code == 302
    assert policy.blocked_between(alice, bob)
    assert b"bob" in client.get("/settings/blocks/").content
    assert client.post("/settings/blocks/", {"unblock": "bob"}).status_code == 302
    assert not policy.blocked_between(alice, bob)


@pytest.mark.parametrize(("username", "error"), [("nobody", b"No user"), ("alice", b"yourself")])
def test_the_blocks_page_explains_bad_input(alice, username, error):
    response = _client(alice).post("/settings/blocks/", {"username": username})
    assert response.status_code == 400 and error in response.content


# Mentions


async def test_a_mention_notifies_that_member_elsewhere_and_nobody_else(
    open_socket, alice, bob, carol, public_room
):
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    await sync_to_async(rooms.open_room)(user=carol, slug=public_room.slug)
    bob_here = await open_socket(bob, public_room.slug)
    other = await sync_to_async(rooms.create_room)(creator=bob, name="Bob's", kind="public")
    await sync_to_async(rooms.open_room)(user=carol, slug=other.slug)
    bob_away = await open_socket(bob, other.slug)
    carol_away = await open_socket(carol, other.slug)
    a = await open_socket(alice, public_room.slug)
    await a.send("message.send", body="hey @bob, see this. @alice @nobody")
    message = (await bob_here.expect("message"))["message"]
    await bob_here.expect_silence(0.3)  # on the room itself: the message, no notify
    notify = await bob_away.expect("notify")
    assert notify == {
        "type": "notify",
        "room": public_room.slug,
        "room_name": "General",
        "room_kind": "public",
        "message": message,
    }
    await bob_away.expect_silence(0.3)
    await carol_away.expect_silence(0.3)  # not mentioned
    await a.expect("message")
    await a.expect_silence(0.3)  # mentioning oneself notifies nobody


@pytest.mark.parametrize("who_blocks", ["mentioned", "author"])
async def test_a_mention_across_a_block_notifies_nobody(
    open_socket, alice, bob, public_room, who_blocks
):
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    blocker, blocked = (bob, alice) if who_blocks == "mentioned" else (alice, bob)
    await sync_to_async(blocks.block)(blocker=blocker, username=blocked.username)
    other = await sync_to_async(rooms.create_room)(creator=bob, name="Bob's", kind="public")
    bob_away = await open_socket(bob, other.slug)
    a = await open_socket(alice, public_room.slug)
    await a.send("message.send", body="hey @bob")
    await a.expect("message")
    await bob_away.expect_silence(0.5)


async def test_a_mention_of_a_non_member_does_nothing(open_socket, alice, bob, private_room):
    other = await sync_to_async(rooms.create_room)(creator=bob, name="Bob's", kind="public")
    bob_away = await open_socket(bob, other.slug)
    a = await open_socket(alice, private_room.slug)
    await a.send("message.send", body="@bob is not in here")
    await a.expect("message")
    await bob_away.expect_silence(0.5)


@pytest.mark.parametrize(
    ("body", "mentioned"),
    [
        ("@bob", {"bob"}),
        ("hi @bob.", {"bob"}),
        ("(@bob)", {"bob"}),
        ("mail bob@example.com", set()),
        ("@bob.smith and @carol_2", {"bob.smith", "carol_2"}),
    ],
)
def test_mention_syntax(body, mentioned):
    assert richtext.mentioned(body) == mentioned


# Unread counts, read marks and "seen"


async def test_the_lobby_socket_hears_notifications_and_unread_changes(
    open_socket, alice, bob, public_room
):
    room = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    await sync_to_async(messages.post)(author=alice, room=room, body="earlier")
    lobby = await open_socket(bob, expect_ready=False, path="/ws/lobby/")
    ready = await lobby.expect("ready")
    assert ready == {"type": "ready", "me": {"username": "bob"}}  # counts: GET /api/rooms/
    a = await open_socket(alice, public_room.slug)
    await a.send("dm.send", to="bob", body="now")
    notify = await lobby.expect("notify")
    assert notify["room"] == room.slug and notify["message"]["body"] == "now"
    bob_dm = await open_socket(bob, room.slug)
    assert "unread" not in bob_dm.ready  # the handshake does not grow with my rooms
    await bob_dm.send("read", id=notify["message"]["id"])
    unread = await lobby.recv_type("unread")
    assert unread == {"type": "unread", "room": room.slug, "unread": 0}


async def test_the_lobby_socket_needs_a_login(open_socket):
    lobby = await open_socket(None, expect_ready=False, path="/ws/lobby/")
    assert await lobby.expect_close() == 4401


async def test_in_a_direct_room_the_sender_sees_how_far_the_other_has_read(open_socket, alice, bob):
    room = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    a = await open_socket(alice, room.slug)
    assert a.ready["read_marks"] == {"bob": None}
    await a.send("message.send", body="did you read this?")
    message_id = (await a.expect("message"))["message"]["id"]
    b = await open_socket(bob, room.slug)
    await b.send("read", id=message_id)
    assert await a.recv_type("read") == {"type": "read", "user": "bob", "id": message_id}
    again = await open_socket(alice, room.slug)
    assert again.ready["read_marks"] == {"bob": message_id}


def test_direct_conversations_are_listed_with_their_unread_count(alice, bob):
    room = rooms.direct_room(user=alice, other=bob)
    first, _ = messages.post(author=alice, room=room, body="one")
    second, _ = messages.post(author=alice, room=room, body="two")
    messages.mark_read(user=bob, room=room, message_id=first.pk)
    response = _client(bob).get("/")
    [entry] = response.context["conversations"]
    assert (entry.title, entry.unread, entry.mentions, entry.last_id) == ("alice", 1, 1, second.pk)
    assert response.context["total_unread"] == 1
    [listed] = _client(bob).get("/api/rooms/").json()["rooms"]
    assert listed == {**entry.data(), "slug": room.slug}
    room_page = _client(bob).get(f"/rooms/{room.slug}/")
    assert room_page.context["title"] == "alice" and room_page.context["total_unread"] == 1


def test_user_search_finds_active_users_by_prefix(alice, bob, make_user):
    make_user("bobby")
    make_user("bobcat", is_active=False)
    response = _client(alice).get("/api/users/", {"q": "BO"})
    assert json.loads(response.content) == {"users": ["bob", "bobby"]}
    assert json.loads(_client(alice).get("/api/users/", {"q": "al"}).content) == {"users": []}
    assert Client().get("/api/users/", {"q": "b"}).status_code == 401
