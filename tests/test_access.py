"""Access taken away by any path holds at once on open sockets; nothing of a room reaches someone
banned from it; nobody undoes the act of a superior or lifts their own sanction; members leave.

The admin cases run the admin in this process and the people it acts on on Daphne workers on
the same Redis, as in production."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.utils import timezone

from chat import conversations, messages, moderation, rooms
from chat.models import Membership, Message, ModerationLog, Mute, Room, RoomBan

from .adminforms import form_data, post

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _actions() -> list[str]:
    return list(ModerationLog.objects.order_by("id").values_list("action", flat=True))


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def team(alice, bob, carol, private_room):
    """A private room: alice owns it, bob is a moderator, carol a member."""
    for user in (bob, carol):
        rooms.add_member(actor=alice, room=private_room, username=user.username)
    moderation.set_role(actor=alice, room=private_room, user=bob, role="moderator")
    ModerationLog.objects.all().delete()
    return private_room


def _settings(user, room: Room, data: dict) -> bytes:
    return _client(user).post(f"/rooms/{room.slug}/settings/", data, follow=True).content


# --- Nobody lifts their own sanction, nor undoes a superior's act ----------------------------


def test_a_moderator_muted_by_the_owner_cannot_unmute_himself(alice, bob, team):
    assert b"Done." in _settings(
        alice, team, {"action": "mute", "username": "bob", "duration": "1h"}
    )
    page = _settings(bob, team, {"action": "unmute", "username": "bob"})
    assert b"Done." not in page and b"yourself" in page
    assert Mute.objects.active().filter(room=team, user=bob).exists()


def test_a_moderator_cannot_lift_or_shorten_a_ban_placed_by_staff(staff, bob, carol, team):
    moderation.ban(actor=staff, room=team, user=carol, reason="staff decision")
    assert b"Done." not in _settings(bob, team, {"action": "unban", "username": "carol"})
    page = _settings(bob, team, {"action": "ban", "username": "carol", "duration": "1h"})
    assert b"Done." not in page and b"higher rank" in page
    ban = RoomBan.objects.get(room=team, user=carol)
    assert (ban.created_by, ban.until) == (staff, None)


def test_an_owner_muted_by_staff_cannot_unmute_herself(staff, alice, team):
    moderation.mute(actor=staff, room=team, user=alice, until=timezone.now() + timedelta(hours=1))
    assert b"Done." not in _settings(alice, team, {"action": "unmute", "username": "alice"})
    assert Mute.objects.active().filter(room=team, user=alice).exists()


def test_the_owner_lifts_what_her_moderator_imposed(alice, bob, carol, team):
    assert b"Done." in _settings(
        bob, team, {"action": "mute", "username": "carol", "duration": "1h"}
    )
    assert b"Done." in _settings(alice, team, {"action": "unmute", "username": "carol"})
    assert _actions() == ["mute", "unmute"]


def test_in_admin_staff_cannot_lift_or_replace_what_a_superuser_imposed(root, staff, carol, team):
    ban = moderation.ban(actor=root, room=team, user=carol)
    client = _client(staff)
    assert client.get(f"/admin/chat/roomban/{ban.pk}/delete/").status_code == 403
    client.post(f"/admin/chat/roomban/{ban.pk}/delete/", {"post": "yes"})
    url = f"/admin/chat/roomban/{ban.pk}/change/"
    data = form_data(client, url)
    data["reason"] = "shorter"
    response = client.post(url, data)
    assert response.status_code == 200 and b"higher rank" in response.content
    assert RoomBan.objects.get(pk=ban.pk).created_by == root
    assert _actions() == ["ban"]


# --- Nothing of a room reaches someone banned from it ---------------------------------------


async def test_a_banned_member_hears_no_mention_and_counts_no_unread(
    open_socket, staff, alice, carol, team
):
    await sync_to_async(moderation.ban)(actor=staff, room=team, user=carol)
    lobby = await open_socket(carol, path="/ws/lobby/", expect_ready=False)
    await lobby.expect("ready")
    await sync_to_async(messages.post)(author=alice, room=team, body="@carol are you there?")
    await lobby.expect_silence(0.5)  # neither `notify` nor `activity`
    listed = await sync_to_async(lambda: _client(carol).get("/api/rooms/").json()["rooms"])()
    assert team.slug not in [room["slug"] for room in listed]
    assert await sync_to_async(conversations.unread_counts)(carol) == {}
    assert await sync_to_async(conversations.mention_counts)(carol) == {}


# --- Access withdrawn in admin holds on open sockets, on every worker ------------------------


@pytest.fixture
def workers(redis_layer, daphne):
    return daphne(), daphne()


async def test_a_membership_deleted_in_admin_closes_the_socket_on_another_worker(
    workers, root, carol, team
):
    _, two = workers
    sock = await two.connect(carol, team.slug)
    member = await sync_to_async(Membership.objects.get)(room=team, user=carol)
    status = await sync_to_async(
        lambda: post(_client(root), f"/admin/chat/membership/{member.pk}/delete/", {"post": "yes"})
    )()
    assert status == 302
    assert await sock.expect_close(timeout=1) == 4403
    again = await two.connect(carol, team.slug, expect_ready=False)
    assert await again.expect_close() == 4403
    assert await sync_to_async(_actions)() == ["remove_member"]


async def test_a_user_deleted_in_admin_is_closed_with_4401_on_every_worker(
    workers, root, carol, team
):
    one, two = workers
    socks = [await one.connect(carol, team.slug), await two.connect(carol, team.slug)]
    status = await sync_to_async(
        lambda: post(_client(root), f"/admin/auth/user/{carol.pk}/delete/", {"post": "yes"})
    )()
    assert status == 302
    for sock in socks:
        assert await sock.expect_close(timeout=1) == 4401
    entry = await sync_to_async(ModerationLog.objects.get)()
    assert (entry.action, entry.detail, entry.target_id) == ("delete_account", "carol", None)


async def test_staff_rights_withdrawn_in_admin_reconnect_the_socket_and_hold_at_once(
    workers, root, staff, carol, team
):
    _, two = workers
    await sync_to_async(rooms.add_member)(actor=staff, room=team, username="staff")
    sock = await two.connect(staff, team.slug)
    url = f"/admin/auth/user/{staff.pk}/change/"

    def withdraw() -> int:
        client = _client(root)
        data = form_data(client, url)
        del data["is_staff"]
        return post(client, url, data)

    assert await sync_to_async(withdraw)() == 302
    assert await sock.expect_close(timeout=1) == 4000  # reconnect: the rights changed
    theirs, _ = await sync_to_async(messages.post)(author=carol, room=team, body="mine")
    again = await two.connect(staff, team.slug)
    await again.send("message.delete", id=theirs.pk)
    assert (await again.expect("error"))["code"] == "forbidden"
    assert "staff" in await sync_to_async(_actions)()


async def test_rank_is_read_fresh_for_every_act_not_from_the_handshake(
    open_socket, staff, carol, team
):
    """However the rights went (here an update no signal sees), a socket opened with them
    cannot use them."""
    await sync_to_async(rooms.add_member)(actor=staff, room=team, username="staff")
    theirs, _ = await sync_to_async(messages.post)(author=carol, room=team, body="mine")
    sock = await open_socket(staff, team.slug)
    await sync_to_async(type(staff).objects.filter(pk=staff.pk).update)(is_staff=False)
    await sock.send("message.delete", id=theirs.pk)
    assert (await sock.expect("error"))["code"] == "forbidden"
    assert await sync_to_async(Message.objects.visible().count)() == 1


def test_memberships_and_roles_change_in_admin_only_through_the_services(root, alice, carol, team):
    client = _client(root)
    member = Membership.objects.get(room=team, user=carol)
    url = f"/admin/chat/membership/{member.pk}/change/"
    data = form_data(client, url)
    data["role"] = "moderator"
    assert client.post(url, data).status_code == 302
    outsider = type(carol).objects.create_user("dave")
    added = client.post(
        "/admin/chat/membership/add/", {"room": team.pk, "user": outsider.pk, "role": "member"}
    )
    assert added.status_code == 302
    assert _actions() == ["role", "add_member"]
    room_url = f"/admin/chat/room/{team.pk}/change/"
    room_page = client.get(room_url)
    assert b'name="memberships-0-role"' not in room_page.content  # the inline is read-only


def test_a_room_created_in_admin_is_owned_by_its_creator(root):
    response = _client(root).post(
        "/admin/chat/room/add/", {"name": "Announcements", "kind": "public", "topic": ""}
    )
    assert response.status_code == 302
    room = Room.objects.get(name="Announcements")
    assert Membership.objects.get(room=room).role == "owner"
    assert room.slug == "announcements"


# --- Leaving a room --------------------------------------------------------------------------


async def test_a_member_leaves_a_private_room_and_their_sockets_on_it_close(
    open_socket, alice, carol, team
):
    a = await open_socket(alice, team.slug)
    c = await open_socket(carol, team.slug)
    response = await sync_to_async(lambda: _client(carol).post(f"/rooms/{team.slug}/leave/"))()
    assert response.status_code == 302 and response["Location"] == "/"
    assert await c.expect_close() == 4403
    assert "carol" not in (await a.recv_type("members"))["members"]
    assert not await sync_to_async(Membership.objects.filter(room=team, user=carol).exists)()


def test_the_last_owner_and_direct_rooms_cannot_be_left(alice, bob, team):
    page = _client(alice).post(f"/rooms/{team.slug}/leave/", follow=True).content
    assert b"hand it over" in page
    assert Membership.objects.filter(room=team, user=alice).exists()
    direct = rooms.direct_room(user=alice, other=bob)
    page = _client(alice).post(f"/rooms/{direct.slug}/leave/", follow=True).content
    assert b"cannot be left" in page
    assert Membership.objects.filter(room=direct).count() == 2
