"""Moderation as users see it, over real sockets: bans, mutes, slow mode, posting policy,
blocked terms, reports, flooding, deactivation, password change, owner powers, and the log."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.utils import timezone

from chat import messages, moderation, rooms
from chat.models import BlockedTerm, Membership, Message, ModerationLog, Report, Room

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _log() -> list[tuple]:
    return list(
        ModerationLog.objects.order_by("id").values_list(
            "actor__username", "action", "target__username", "room__slug"
        )
    )


# Bans


async def test_a_ban_closes_the_socket_on_that_room_only_and_refuses_reconnects(
    open_socket, staff, bob, members, private_room
):
    await sync_to_async(Membership.objects.create)(room=private_room, user=bob)
    there = await open_socket(bob, members.slug)
    elsewhere = await open_socket(bob, private_room.slug)
    await sync_to_async(moderation.ban)(actor=staff, room=members, user=bob, reason="spam")
    assert await there.expect_close(timeout=1) == 4403
    await elsewhere.roundtrip()
    again = await open_socket(bob, members.slug, expect_ready=False)
    assert await again.expect_close() == 4403
    page = await sync_to_async(lambda: _client(bob).get(f"/rooms/{members.slug}/"))()
    assert page.status_code == 403
    assert await sync_to_async(_log)() == [("staff", "ban", "bob", "general")]


async def test_a_ban_that_has_ended_lets_them_back(open_socket, staff, bob, members):
    ban = await sync_to_async(moderation.ban)(
        actor=staff, room=members, user=bob, until=timezone.now() + timedelta(hours=1)
    )
    ban.until = timezone.now() - timedelta(seconds=1)
    await sync_to_async(ban.save)()
    await open_socket(bob, members.slug)


def test_nobody_bans_an_equal_or_a_superior(alice, bob, members, staff):
    Membership.objects.filter(room=members, user=bob).update(role="moderator")
    with pytest.raises(moderation.Forbidden):
        moderation.ban(actor=bob, room=members, user=alice)  # moderator vs owner
    with pytest.raises(moderation.Forbidden):
        moderation.ban(actor=alice, room=members, user=staff)  # owner vs staff
    with pytest.raises(moderation.Forbidden):
        moderation.ban(actor=alice, room=members, user=alice)
    assert not ModerationLog.objects.exists()


# Mutes


async def test_a_mute_answers_muted_to_sends_and_dms_in_that_room_while_reading_goes_on(
    open_socket, alice, bob, members
):
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    await sync_to_async(messages.post)(author=alice, room=members, body="before")
    b = await open_socket(bob, members.slug)
    await sync_to_async(moderation.mute)(
        actor=alice, room=members, user=bob, until=timezone.now() + timedelta(hours=1)
    )
    await b.send("message.send", body="hello?")
    error = await b.expect("error")
    assert error["code"] == "muted" and "until" in error["message"]
    await b.send("history")
    assert [m["body"] for m in (await b.expect("history"))["messages"]] == ["before"]
    await b.send("dm.send", to="alice", body="still fine")  # the mute is for that room only
    assert (await b.expect("notify"))["room"] == direct.slug


async def test_a_mute_in_a_direct_room_answers_muted_to_dm_send(open_socket, alice, bob, staff):
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    await sync_to_async(moderation.mute)(
        actor=staff, room=direct, user=bob, until=timezone.now() + timedelta(hours=1)
    )
    b = await open_socket(bob, direct.slug)
    await b.send("dm.send", to="alice", body="hi")
    assert (await b.expect("error"))["code"] == "muted"
    assert await sync_to_async(Message.objects.count)() == 0


# Slow mode and posting policy


async def test_slow_mode_holds_for_open_sockets_with_retry_after_moderators_exempt(
    open_socket, alice, bob, members
):
    a = await open_socket(alice, members.slug)
    b = await open_socket(bob, members.slug)
    await sync_to_async(moderation.set_slow_mode)(actor=alice, room=members, seconds=30)
    assert (await b.expect("room"))["room"]["slow_mode"] == 30
    await b.send("message.send", body="first")
    await b.expect("message")
    await a.recv_type("message")
    await b.send("message.send", body="second")
    error = await b.expect("error")
    assert error["code"] == "rate_limited" and 28 < error["retry_after"] <= 30
    for n in range(3):  # the owner is a moderator: exempt
        await a.send("message.send", body=f"owner {n}")
        assert (await a.recv_type("message"))["message"]["body"] == f"owner {n}"
    assert await sync_to_async(Message.objects.filter(author=alice).count)() == 3


async def test_an_announcement_room_lets_only_moderators_post(open_socket, alice, bob, members):
    await sync_to_async(moderation.set_posting)(actor=alice, room=members, posting="moderators")
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="can I?")
    assert (await b.expect("error"))["code"] == "forbidden"
    a = await open_socket(alice, members.slug)
    await a.send("message.send", body="announcement")
    assert (await b.expect("message"))["message"]["body"] == "announcement"


# Blocked terms


@pytest.mark.parametrize(
    ("action", "body", "outcome"),
    [
        ("refuse", "buy Cheap Pills now", "forbidden"),
        ("mask", "buy cheap pills now", "buy *********** now"),
        ("mask", "cheap pillsbury", "cheap pillsbury"),  # whole words only
    ],
)
async def test_blocked_terms_refuse_or_mask(open_socket, bob, members, action, body, outcome):
    await sync_to_async(BlockedTerm.objects.create)(term="cheap pills", action=action)
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body=body)
    frame = await b.recv_type("error" if outcome == "forbidden" else "message")
    if outcome == "forbidden":
        assert frame["code"] == "forbidden"
        assert await sync_to_async(Message.objects.count)() == 0
    else:
        assert frame["message"]["body"] == outcome


# Deleting, reporting


async def test_a_moderator_deletes_any_message_and_the_log_records_it(
    open_socket, alice, bob, members
):
    b = await open_socket(bob, members.slug)
    a = await open_socket(alice, members.slug)
    await b.send("message.send", body="off topic")
    message_id = (await a.expect("message"))["message"]["id"]
    await a.send("message.delete", id=message_id)
    assert (await b.recv_type("message.deleted"))["id"] == message_id
    assert await sync_to_async(_log)() == [("alice", "delete_message", "bob", "general")]


async def test_deleting_ones_own_message_is_not_a_moderation_act(open_socket, bob, members):
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="oops")
    message_id = (await b.expect("message"))["message"]["id"]
    await b.send("message.delete", id=message_id)
    await b.expect("message.deleted")
    assert await sync_to_async(_log)() == []


async def test_a_report_is_acknowledged_and_queued(open_socket, alice, bob, members):
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="rude")
    b = await open_socket(bob, members.slug)
    await b.send("message.report", id=message.pk, reason="insulting")
    ack = await b.expect("report.ack")
    report = await sync_to_async(Report.objects.select_related("reporter").get)()
    assert ack == {"type": "report.ack", "id": report.pk}
    assert (report.reporter.username, report.reason, report.status) == ("bob", "insulting", "open")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"reason": "x" * 501}, "too_long"),
        ({"id": 999_999}, "not_found"),
        ({"id": "1"}, "invalid"),
        ({"reason": 5}, "invalid"),
    ],
)
async def test_bad_reports_are_refused(open_socket, alice, bob, members, frame, code):
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    b = await open_socket(bob, members.slug)
    await b.send("message.report", **{"id": message.pk, **frame})
    assert (await b.expect("error"))["code"] == code
    assert await sync_to_async(Report.objects.count)() == 0


def test_resolving_a_report_acts_and_closes_every_report_of_that_message(
    alice, bob, staff, members
):
    message, _ = messages.post(author=bob, room=members, body="spam")
    first = moderation.report(reporter=alice, room=members, message_id=message.pk, reason="spam")
    moderation.report(reporter=staff, room=members, message_id=message.pk)
    moderation.resolve_report(actor=staff, report=first, resolution="delete_ban")
    assert Message.objects.get().deleted is not None
    assert set(Report.objects.values_list("status", flat=True)) == {"resolved"}
    assert [row[1] for row in _log()] == ["delete_message", "ban"]


# Flooding


async def test_a_socket_that_keeps_sending_after_rate_limited_is_closed_with_4429(
    open_socket, bob, members, settings
):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "message": (2, 10.0)}
    settings.CHAT_FLOOD_STRIKES = 5
    b = await open_socket(bob, members.slug)
    for n in range(2):
        await b.send("message.send", body=f"ok {n}")
        await b.expect("message")
    for _ in range(4):
        await b.send("message.send", body="flood")
        assert (await b.expect("error"))["code"] == "rate_limited"
    await b.send("message.send", body="flood")
    assert (await b.expect("error"))["code"] == "rate_limited"
    assert await b.expect_close() == 4429


# Accounts


async def test_deactivation_closes_every_socket_of_the_user_with_4401(
    open_socket, staff, bob, members
):
    on_room = await open_socket(bob, members.slug)
    on_lobby = await open_socket(bob, expect_ready=False, path="/ws/lobby/")
    await on_lobby.expect("ready")
    await sync_to_async(moderation.set_active)(actor=staff, user=bob, active=False, reason="spam")
    assert await on_room.expect_close(timeout=1) == 4401
    assert await on_lobby.expect_close(timeout=1) == 4401
    again = await open_socket(bob, members.slug, expect_ready=False)
    assert await again.expect_close() == 4401
    assert await sync_to_async(_log)() == [("staff", "deactivate", "bob", None)]


async def test_a_password_change_closes_every_session_s_sockets(open_socket, bob, members):
    browser = Client()
    await sync_to_async(browser.force_login)(bob)
    this_session = await open_socket(bob, members.slug, cookie=browser.cookies["sessionid"].value)
    other_session = await open_socket(bob, members.slug)
    response = await sync_to_async(browser.post)(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-pass-42",
            "new_password2": "another-long-pass-42",
        },
    )
    assert response.status_code == 302
    assert await this_session.expect_close(timeout=1) == 4401
    assert await other_session.expect_close(timeout=1) == 4401
    # The browser that changed it stays logged in, with a renewed session.
    renewed = browser.cookies["sessionid"].value
    await open_socket(bob, members.slug, cookie=renewed)


def test_repeated_failed_logins_lock_the_account_out_with_a_clear_page(bob, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"locked" in locked.content.lower()
    assert "_auth_user_id" not in client.session


# Room owners and moderators, and members who are neither


def test_the_owner_moderates_from_the_room_settings_page(alice, bob, members):
    client = _client(alice)
    assert client.get(f"/rooms/{members.slug}/settings/").status_code == 200
    for data in (
        {"action": "topic", "topic": "Be kind"},
        {"action": "slow_mode", "seconds": "10"},
        {"action": "posting", "posting": "moderators"},
        {"action": "role", "username": "bob", "role": "moderator"},
        {"action": "role", "username": "bob", "role": "member"},
        {"action": "mute", "username": "bob", "duration": "1h", "reason": "calm down"},
        {"action": "unmute", "username": "bob"},
        {"action": "ban", "username": "bob", "duration": "24h", "reason": "spam"},
        {"action": "unban", "username": "bob"},
    ):
        response = client.post(f"/rooms/{members.slug}/settings/", data, follow=True)
        assert b"Done." in response.content, (data, response.content[-2000:])
    room = Room.objects.get(pk=members.pk)
    assert (room.topic, room.slow_mode_seconds, room.posting) == ("Be kind", 10, "moderators")
    assert [row[1] for row in _log()] == [
        "topic",
        "slow_mode",
        "posting",
        "role",
        "role",
        "mute",
        "unmute",
        "ban",
        "unban",
    ]


def test_a_moderator_may_not_change_roles_nor_act_on_the_owner(alice, bob, carol, members):
    rooms.open_room(user=carol, slug=members.slug)
    Membership.objects.filter(room=members, user=bob).update(role="moderator")
    client = _client(bob)
    for data in (
        {"action": "role", "username": "carol", "role": "moderator"},
        {"action": "ban", "username": "alice", "duration": "1h"},
    ):
        response = client.post(f"/rooms/{members.slug}/settings/", data, follow=True)
        assert b"Done." not in response.content
    response = client.post(
        f"/rooms/{members.slug}/settings/",
        {"action": "mute", "username": "carol", "duration": "10m"},
        follow=True,
    )
    assert b"Done." in response.content
    assert [row[1] for row in _log()] == ["mute"]


async def test_an_ordinary_member_has_no_moderator_powers(open_socket, alice, bob, carol, members):
    await sync_to_async(rooms.open_room)(user=carol, slug=members.slug)
    client = await sync_to_async(_client)(bob)
    url = f"/rooms/{members.slug}/settings/"
    assert (await sync_to_async(client.get)(url)).status_code == 403
    response = await sync_to_async(client.post)(
        url, {"action": "ban", "username": "carol", "duration": "1h"}
    )
    assert response.status_code == 403
    message, _ = await sync_to_async(messages.post)(author=carol, room=members, body="hi")
    b = await open_socket(bob, members.slug)
    await b.send("message.delete", id=message.pk)
    assert (await b.expect("error"))["code"] == "forbidden"
    await b.send("message.edit", id=message.pk, body="mine now")
    assert (await b.expect("error"))["code"] == "forbidden"
    assert await sync_to_async(_log)() == []
