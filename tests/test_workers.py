"""Several Daphne processes on one Redis channel layer and one database, as in production."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat import rooms
from chat.models import Message

from .conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_message_sent_on_one_worker_reaches_sockets_on_the_other_once_each(
    daphne, alice, bob, public_room
):
    one, two = daphne(), daphne()
    a = await one.connect(alice, public_room.slug)
    b = await two.connect(bob, public_room.slug)
    await a.send("message.send", body="across workers", client_id="w-1")
    for sock in (a, b):
        frame = await sock.expect("message")
        assert frame["message"]["body"] == "across workers"
        await sock.expect_silence(0.5)
    assert await sync_to_async(Message.objects.count)() == 1


async def test_senders_on_both_workers_every_member_gets_each_message_once_in_one_order(
    daphne, alice, bob, carol, public_room
):
    """Ordering per room: whatever worker a member is on, it hears the room's messages in the
    order the database gave them ids, each once."""
    for user in (bob, carol):
        await sync_to_async(rooms.open_room)(user=user, slug=public_room.slug)
    one, two = daphne(CHAT_RATE_MESSAGES="100000"), daphne(CHAT_RATE_MESSAGES="100000")
    senders = [
        await one.connect(alice, public_room.slug),
        await two.connect(bob, public_room.slug),
        await one.connect(carol, public_room.slug),
    ]
    listeners = [await w.connect(u, public_room.slug) for w in (one, two) for u in (alice, bob)]

    async def send_all(n: int, sock) -> None:
        for k in range(50):
            await sock.send("message.send", body=f"{n}:{k}", client_id=f"o-{n}-{k}")

    await asyncio.gather(*(send_all(n, sock) for n, sock in enumerate(senders)))
    heard = [
        [(await sock.recv_type("message", timeout=20))["message"]["id"] for _ in range(150)]
        for sock in senders + listeners
    ]
    stored = await sync_to_async(
        lambda: list(Message.objects.order_by("id").values_list("id", flat=True))
    )()
    assert len(stored) == 150
    assert all(ids == stored for ids in heard)
    for sock in senders + listeners:
        await sock.expect_silence(0.5)


async def test_an_idle_socket_keeps_receiving_after_20_seconds(daphne, alice, bob, public_room):
    """channels_redis issue 422: without socket_timeout=None, redis-py drops idle readers."""
    one, two = daphne(), daphne()
    idle = await two.connect(bob, public_room.slug)
    await asyncio.sleep(20)
    a = await one.connect(alice, public_room.slug)
    await a.send("message.send", body="still there?")
    assert (await idle.expect("message", timeout=5))["message"]["body"] == "still there?"


async def test_a_burst_larger_than_the_default_capacity_arrives_whole_and_in_order(
    daphne, alice, bob, public_room
):
    """300 messages at once: more than channels-redis' default capacity of 100 per channel."""
    one, two = daphne(CHAT_RATE_MESSAGES="100000"), daphne(CHAT_RATE_MESSAGES="100000")
    a = await one.connect(alice, public_room.slug)
    b = await two.connect(bob, public_room.slug)
    for n in range(300):
        await a.send("message.send", body=f"burst {n}", client_id=f"b-{n}")
    received = [(await b.expect("message", timeout=20))["message"] for _ in range(300)]
    assert [m["body"] for m in received] == [f"burst {n}" for n in range(300)]
    assert [m["id"] for m in received] == sorted(m["id"] for m in received)
    await b.expect_silence(0.5)


async def test_logout_on_one_worker_closes_that_sessions_socket_on_another(
    daphne, alice, public_room
):
    one, two = daphne(), daphne()
    cookie = await sync_to_async(session_cookie)(alice)
    sock = await two.connect(alice, public_room.slug, cookie=cookie)
    other_session = await two.connect(alice, public_room.slug)
    await sync_to_async(_log_out_over_http)(one.http, cookie)
    assert await sock.expect_close(timeout=1) == 4401
    await other_session.roundtrip()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _log_out_over_http(base: str, session: str) -> None:
    """As a browser does: load a page for the CSRF token, then POST the logout form."""
    page = urllib.request.Request(f"{base}/", headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(page, timeout=5) as response:
        token = next(
            header.split(";")[0].split("=", 1)[1]
            for header in response.headers.get_all("Set-Cookie")
            if header.startswith("csrftoken=")
        )
    logout = urllib.request.Request(
        f"{base}/accounts/logout/",
        data=f"csrfmiddlewaretoken={token}".encode(),
        headers={
            "Cookie": f"sessionid={session}; csrftoken={token}",
            "Origin": base,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(_NoRedirect).open(logout, timeout=5)
    assert redirect.value.code == 302


async def test_a_killed_worker_s_users_drop_out_of_presence(daphne, alice, bob, public_room):
    """SIGKILL runs no disconnect handler; the survivors' heartbeats expire the dead entries."""
    fast = {"CHAT_HEARTBEAT_INTERVAL": "0.5", "CHAT_PRESENCE_TTL": "2"}
    one, two = daphne(**fast), daphne(**fast)
    a = await one.connect(alice, public_room.slug)
    await two.connect(bob, public_room.slug)
    deadline = asyncio.get_running_loop().time() + 10
    online = None
    while online != ["alice", "bob"]:
        frame = await a.recv(timeout=deadline - asyncio.get_running_loop().time())
        online = frame.get("online", online)
    two.kill()
    while online != ["alice"]:
        frame = await a.recv(timeout=deadline - asyncio.get_running_loop().time())
        online = frame.get("online", online)


def test_healthz_on_a_worker_names_the_redis_layer_healthy(daphne):
    worker = daphne()
    with urllib.request.urlopen(f"{worker.http}/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {
            "status": "ok",
            "database": "ok",
            "channel_layer": "ok",
        }


async def test_a_dm_across_workers_is_a_message_on_the_dm_and_a_notify_elsewhere_once_each(
    daphne, alice, bob, public_room
):
    one, two = daphne(), daphne()
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    bob_in_dm = await one.connect(bob, direct.slug)
    bob_elsewhere = await two.connect(bob, public_room.slug)
    alice_elsewhere = await one.connect(alice, public_room.slug)
    await alice_elsewhere.send("dm.send", to="bob", body="across workers", client_id="dm-1")
    message = (await bob_in_dm.expect("message"))["message"]
    assert message["body"] == "across workers" and message["room"] == direct.slug
    assert await bob_elsewhere.expect("notify") == {
        "type": "notify",
        "room": direct.slug,
        "room_name": direct.name,
        "room_kind": "direct",
        "message": message,
    }
    for sock in (bob_in_dm, bob_elsewhere):
        await sock.expect_silence(0.5)


async def test_ready_is_the_first_frame_though_the_user_s_events_arrive_during_the_handshake(
    daphne, make_user, alice
):
    """Opening a public room one is not in joins it, and the join tells the user's sockets
    (`conversation`), the opening one too, while it still builds `ready`: that waits."""
    crowd = {"CHAT_SOCKETS_PER_USER": "100", "CHAT_RATE_LIMITS": "connect=1000/1"}
    worker = daphne(**crowd)
    users = [await sync_to_async(make_user)(f"user{n}") for n in range(20)]
    public = [
        await sync_to_async(rooms.create_room)(creator=alice, name=f"Room {n}", kind="public")
        for n in range(5)
    ]

    async def first_frame(user, room) -> dict:
        sock = await worker.connect(user, room.slug, expect_ready=False)
        return await sock.recv(timeout=10)

    firsts = await asyncio.gather(*(first_frame(u, r) for u in users for r in public))
    assert [frame["type"] for frame in firsts] == ["ready"] * 100


async def test_a_user_s_sockets_on_one_worker_each_hear_their_events_once_until_the_last_closes(
    daphne, redis_server, alice, bob, public_room
):
    """The worker, not the socket, is the member of a user's group: three tabs on one worker
    each get a notification once, a tab that closed gets nothing, and the worker leaves the
    group only with the last tab."""
    one, two = daphne(), daphne()
    tabs = [await one.connect(bob, public_room.slug) for _ in range(3)]
    alice_sock = await two.connect(alice, public_room.slug)

    def members() -> int:
        reply = redis_server.command("ZCARD", f"asgi:group:user.{bob.pk}")
        return int(reply.strip().lstrip(b":"))

    assert members() == 1

    await alice_sock.send("dm.send", to="bob", body="to every tab", client_id="tabs-1")
    for tab in tabs:
        assert (await tab.expect("notify"))["message"]["body"] == "to every tab"
        await tab.expect_silence(0.3)

    await tabs[0].close()
    await alice_sock.send("dm.send", to="bob", body="to the open tabs", client_id="tabs-2")
    for tab in tabs[1:]:
        assert (await tab.expect("notify"))["message"]["body"] == "to the open tabs"
    await tabs[1].close()
    await tabs[2].roundtrip()
    assert members() == 1
    await tabs[2].close()
    async with asyncio.timeout(10):
        while members():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_a_thousand_sockets_closing_at_once_leave_no_stale_group_members(
    daphne, redis_server, make_user, public_room
):
    """Each close is a presence removal and, for the last socket of a user or of the room on a
    worker, the worker's leaving that group; with a pool that failed past 100 connections, most
    of a crowd stayed behind as stale members."""
    users = [await sync_to_async(make_user)(f"user{n}") for n in range(10)]
    crowd = {"CHAT_SOCKETS_PER_USER": "1000", "CHAT_RATE_LIMITS": "connect=1000/1"}
    workers = daphne(**crowd), daphne(**crowd)
    sockets = []
    for start in range(0, 1000, 50):
        sockets += await asyncio.gather(
            *(
                workers[n % 2].connect(users[n % 10], public_room.slug)
                for n in range(start, start + 50)
            )
        )

    def members(pattern: str) -> int:
        return _members(redis_server, pattern)

    room_group = f"asgi:group:room.{public_room.pk}"
    presence = f"chat:presence:{public_room.pk}"
    assert members(room_group) == 2  # each worker joins the room once, for all its sockets
    # Each worker joins a user's group once, however many of the user's sockets it holds:
    # user n % 10 is always on worker n % 2.
    assert members("asgi:group:user.*") == 10
    assert members(presence) == 1000
    assert members("chat:sockets:*") == 1000  # each user's open sockets, counted for the cap
    await asyncio.gather(*(sock.close() for sock in sockets))
    async with asyncio.timeout(60):
        # Polling is the point: the state lives in Redis, not in this process.
        while (  # noqa: ASYNC110
            members(room_group)
            or members("asgi:group:user.*")
            or members(presence)
            or members("chat:sockets:*")
        ):
            await asyncio.sleep(0.5)


def _members(redis_server, pattern: str) -> int:
    """Members of the sorted sets whose keys match, summed."""
    reply = redis_server.command("KEYS", pattern).split(b"\r\n")
    keys = [line.decode() for line in reply[2::2]]
    return sum(int(redis_server.command("ZCARD", key).strip().lstrip(b":")) for key in keys)


async def test_what_a_worker_renews_stays_gone_once_its_sockets_left(
    daphne, redis_server, make_user, alice
):
    """Each worker re-adds its groups and refreshes its sockets' presence entries every
    `CHAT_HEARTBEAT_INTERVAL` (a Redis restart loses them). A renewal that raced the sockets'
    leaving put the worker back into groups it had left, for a day (`group_expiry`), and the
    sockets back online until their entries expired. Here the renewals run all the time."""
    worker = daphne(CHAT_HEARTBEAT_INTERVAL="0.01")
    users = [await sync_to_async(make_user)(f"user{n}") for n in range(40)]
    public = [
        await sync_to_async(rooms.create_room)(creator=alice, name=f"Room {n}", kind="public")
        for n in range(40)
    ]
    sockets = await asyncio.gather(
        *(worker.connect(u, r.slug) for u, r in zip(users, public, strict=True))
    )
    patterns = ("asgi:group:*", "chat:presence:*", "chat:sockets:*")
    assert [_members(redis_server, pattern) for pattern in patterns] == [80, 40, 40]
    await asyncio.gather(*(sock.close() for sock in sockets))
    async with asyncio.timeout(10):
        while any(_members(redis_server, pattern) for pattern in patterns):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    assert [_members(redis_server, pattern) for pattern in patterns] == [0, 0, 0]
