"""Moderators act through Django admin, served by this process; the people they act on are
connected to Daphne workers elsewhere, on the same Redis. Every effect arrives within a second."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.utils import timezone

from chat import messages, moderation, rooms
from chat.models import Message, ModerationLog

from .adminforms import form_data as _form_data
from .adminforms import post as _post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client_(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def setup(alice, bob, public_room, redis_layer, daphne):
    rooms.open_room(user=bob, slug=public_room.slug)
    return daphne(), daphne()


def _actions() -> list[str]:
    return list(ModerationLog.objects.order_by("id").values_list("action", flat=True))


async def test_a_ban_in_admin_closes_the_socket_on_another_worker_and_refuses_reconnects(
    setup, admin_client_, bob, public_room
):
    one, two = setup
    sock = await two.connect(bob, public_room.slug)
    status = await sync_to_async(_post)(
        admin_client_,
        "/admin/chat/roomban/add/",
        {"room": public_room.pk, "user": bob.pk, "until_0": "", "until_1": "", "reason": "spam"},
    )
    assert status == 302
    assert await sock.expect_close(timeout=1) == 4403
    again = await one.connect(bob, public_room.slug, expect_ready=False)
    assert await again.expect_close() == 4403
    assert await sync_to_async(_actions)() == ["ban"]


async def test_a_mute_in_admin_answers_muted_on_another_worker(
    setup, admin_client_, bob, public_room
):
    _, two = setup
    sock = await two.connect(bob, public_room.slug)
    until = timezone.now() + timedelta(hours=1)
    status = await sync_to_async(_post)(
        admin_client_,
        "/admin/chat/mute/add/",
        {
            "room": public_room.pk,
            "user": bob.pk,
            "until_0": until.strftime("%Y-%m-%d"),
            "until_1": until.strftime("%H:%M:%S"),
            "reason": "cool off",
        },
    )
    assert status == 302
    await sock.send("message.send", body="hello?")
    assert (await sock.expect("error"))["code"] == "muted"
    assert await sync_to_async(_actions)() == ["mute"]


async def test_deleting_in_admin_one_or_in_bulk_reaches_every_socket_of_the_room(
    setup, admin_client_, alice, bob, public_room
):
    one, two = setup
    ids = []
    for n in range(3):
        message, _ = await sync_to_async(messages.post)(author=bob, room=public_room, body=f"{n}")
        ids.append(message.pk)
    a = await one.connect(alice, public_room.slug)
    b = await two.connect(bob, public_room.slug)
    status = await sync_to_async(_post)(
        admin_client_, f"/admin/chat/message/{ids[0]}/delete/", {"post": "yes"}
    )
    assert status == 302
    for sock in (a, b):
        assert (await sock.expect("message.deleted", timeout=1))["id"] == ids[0]
    status = await sync_to_async(_post)(
        admin_client_,
        "/admin/chat/message/",
        {"action": "delete_selected", "_selected_action": ids[1:], "post": "yes"},
    )
    assert status == 302
    for sock in (a, b):
        deleted = {(await sock.expect("message.deleted", timeout=1))["id"] for _ in range(2)}
        assert deleted == set(ids[1:])
    await a.send("history")
    assert (await a.expect("history"))["messages"] == []
    assert await sync_to_async(Message.objects.visible().count)() == 0
    assert await sync_to_async(_actions)() == ["delete_message"] * 3


async def test_deactivating_in_admin_closes_every_socket_on_every_worker_with_4401(
    setup, admin_client_, bob, public_room
):
    one, two = setup
    socks = [await one.connect(bob, public_room.slug), await two.connect(bob, public_room.slug)]
    status = await sync_to_async(_post)(
        admin_client_,
        "/admin/auth/user/",
        {"action": "deactivate_users", "_selected_action": [bob.pk]},
    )
    assert status == 302
    for sock in socks:
        assert await sock.expect_close(timeout=1) == 4401
    assert await sync_to_async(_actions)() == ["deactivate"]


async def test_deactivating_in_the_admin_user_form_closes_sockets_too(
    setup, admin_client_, bob, public_room
):
    _, two = setup
    sock = await two.connect(bob, public_room.slug)
    url = f"/admin/auth/user/{bob.pk}/change/"
    data = await sync_to_async(_form_data)(admin_client_, url)
    del data["is_active"]
    assert await sync_to_async(_post)(admin_client_, url, data) == 302
    assert await sock.expect_close(timeout=1) == 4401
    assert await sync_to_async(_actions)() == ["deactivate"]


async def test_slow_mode_set_in_admin_holds_on_open_sockets(setup, admin_client_, bob, public_room):
    _, two = setup
    sock = await two.connect(bob, public_room.slug)
    url = f"/admin/chat/room/{public_room.pk}/change/"
    data = await sync_to_async(_form_data)(admin_client_, url)
    data["slow_mode_seconds"] = "60"
    assert await sync_to_async(_post)(admin_client_, url, data) == 302
    assert (await sock.recv_type("room", timeout=1))["room"]["slow_mode"] == 60
    await sock.send("message.send", body="one")
    await sock.expect("message")
    await sock.send("message.send", body="two")
    error = await sock.expect("error")
    assert error["code"] == "rate_limited" and 55 < error["retry_after"] <= 60
    assert await sync_to_async(_actions)() == ["slow_mode"]


async def test_the_report_queue_action_deletes_and_bans(
    setup, admin_client_, alice, bob, public_room
):
    one, two = setup
    message, _ = await sync_to_async(messages.post)(author=bob, room=public_room, body="spam")
    report = await sync_to_async(moderation.report)(
        reporter=alice, room=public_room, message_id=message.pk, reason="spam"
    )
    index = await sync_to_async(admin_client_.get)("/admin/")
    assert b"1</strong> open report" in index.content
    a = await one.connect(alice, public_room.slug)
    b = await two.connect(bob, public_room.slug)
    status = await sync_to_async(_post)(
        admin_client_,
        "/admin/chat/report/",
        {"action": "resolve_delete_ban", "_selected_action": [report.pk]},
    )
    assert status == 302
    assert (await a.expect("message.deleted", timeout=1))["id"] == message.pk
    assert await b.expect_close(timeout=1) == 4403
    assert await sync_to_async(_actions)() == ["delete_message", "ban"]
    index = await sync_to_async(admin_client_.get)("/admin/")
    assert b"0</strong> open reports" in index.content


async def test_the_rate_limit_holds_across_workers(setup, bob, public_room):
    """Alternating between sockets on two workers buys no more than the one bucket."""
    one, two = setup
    socks = [await one.connect(bob, public_room.slug), await two.connect(bob, public_room.slug)]
    accepted = refused = 0
    for n in range(14):
        sock = socks[n % 2]
        await sock.send("message.send", body=f"{n}", client_id=f"r-{n}")
        while True:
            frame = await sock.recv(timeout=3)
            if frame["type"] == "error":
                assert frame["code"] == "rate_limited"
                refused += 1
                break
            if frame["type"] == "message" and frame["message"]["client_id"] == f"r-{n}":
                accepted += 1
                break
    assert (accepted, refused) == (10, 4)
    assert await sync_to_async(Message.objects.count)() == 10


def test_the_moderation_log_is_read_only_in_admin(admin_client_, alice, bob, public_room):
    moderation.mute(actor=alice, room=public_room, user=bob, until=timezone.now() + timedelta(1))
    entry = ModerationLog.objects.get()
    assert admin_client_.get("/admin/chat/moderationlog/").status_code == 200
    assert admin_client_.get("/admin/chat/moderationlog/add/").status_code == 403
    assert (
        admin_client_.post(
            f"/admin/chat/moderationlog/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ModerationLog.objects.count() == 1
