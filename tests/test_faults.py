"""Faults, injected for real: a worker SIGKILLed mid-stream, Redis restarted, the database gone,
a client that stops reading, a thousand sockets reconnecting at once. Whatever the server
accepted (answered with a `message` frame) must be stored once and reach every member once."""

import asyncio
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection

from chat import broadcast, protocol, rooms
from chat.client import ChatClient
from chat.models import Message

from .conftest import RedisServer, free_port, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

# A crowd here is a few accounts with many sockets each, syncing every second: their per-user
# limits are not under test.
FAST = {
    "CHAT_RATE_MESSAGES": "1000000",
    "CHAT_RATE_LIMITS": "connect=1000000/1,history=1000000/1,read=1000000/1",
    "CHAT_SOCKETS_PER_USER": "1000000",
    "CHAT_HEARTBEAT_INTERVAL": "1",
}


def _url(worker, slug: str) -> str:
    return f"ws://127.0.0.1:{worker.port}/ws/rooms/{slug}/"


async def _client(user, workers, slug: str, *, start_within: float = 15, **options) -> ChatClient:
    cookie = await sync_to_async(session_cookie)(user)
    client = ChatClient(
        [_url(w, slug) for w in workers],
        cookie=f"sessionid={cookie}",
        **{"backoff": 0.05, "max_backoff": 1.0, "sync_interval": 1.0, **options},
    )
    async with asyncio.timeout(start_within):
        await client.start()
    return client


def _stored(room) -> list[tuple[int, str | None]]:
    return list(Message.objects.filter(room=room).order_by("id").values_list("id", "client_id"))


def _health(worker) -> int:
    try:
        with urllib.request.urlopen(f"{worker.http}/healthz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def _everyone_has_everything(clients, sender, room, timeout: float = 60) -> list:
    """Until the sender has no unconfirmed message and every client holds every stored one."""
    try:
        async with asyncio.timeout(timeout):
            await sender.wait_for(lambda c: not c.pending)
    except TimeoutError:
        raise AssertionError(
            f"{len(sender.pending)} sends unconfirmed after {timeout} s; "
            f"errors {sender.errors[-3:]}; {sender.state()}; "
            f"stored {await sync_to_async(Message.objects.filter(room=room).count)()}"
        ) from None
    assert not sender.failed, f"the server refused sends for good: {sender.failed}"
    stored = await sync_to_async(_stored)(room)
    wanted = {i for i, _ in stored}
    try:
        async with asyncio.timeout(timeout):
            for client in clients:
                await client.wait_for(lambda c: set(c.messages) >= wanted)
    except TimeoutError:
        behind = [c for c in clients if not set(c.messages) >= wanted]
        raise AssertionError(
            f"{len(behind)} of {len(clients)} clients miss messages after {timeout} s: "
            + "; ".join(c.state() for c in behind[:5])
        ) from None
    return stored


async def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    daphne, alice, bob, carol, public_room
):
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    await sync_to_async(rooms.open_room)(user=carol, slug=public_room.slug)
    one, two = daphne(**FAST), daphne(**FAST)
    sender = await _client(alice, [one, two], public_room.slug)
    bob_client = await _client(bob, [one, two], public_room.slug)
    carol_client = await _client(carol, [two, one], public_room.slug)
    sent = []
    restart = None
    for n in range(1000):
        sent.append(await sender.send(f"message {n}"))
        if n == 300:
            one.kill()  # SIGKILL: no disconnect handler, no goodbye to anyone
        if n == 600:
            restart = asyncio.create_task(asyncio.to_thread(one.start))
        await asyncio.sleep(0.002)
    await restart
    stored = await _everyone_has_everything([bob_client, carol_client], sender, public_room)
    # Every send, retried or not, is stored exactly once.
    assert sorted(client_id for _, client_id in stored) == sorted(sent)
    assert set(sender.confirmed) == set(sent)
    # Every member holds every message once, in id order; nobody else's copy differs.
    for client in (sender, bob_client, carol_client):
        assert [m["id"] for m in client.ordered()] == [i for i, _ in stored]
    assert sender.connections >= 2 and bob_client.connections >= 2  # both were on `one`
    for client in (sender, bob_client, carol_client):
        await client.stop()


async def test_a_message_stored_without_its_broadcast_reaches_open_sockets_before_the_next(
    open_socket, alice, bob, public_room
):
    """As when a worker dies between storing a message and broadcasting it: the room's next
    message names it as the one it follows, so open sockets get it from the database, first."""
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="before", client_id="gap-1")
    for sock in (a, b):
        await sock.expect("message")
    lost = await sync_to_async(Message.objects.create)(
        room=public_room, author=alice, body="never broadcast"
    )
    await a.send("message.send", body="after", client_id="gap-3")
    for sock in (a, b):
        missed = (await sock.expect("message", timeout=10))["message"]
        assert (missed["id"], missed["body"]) == (lost.pk, "never broadcast")
        assert missed["room"] == public_room.slug
        assert (await sock.expect("message"))["message"]["body"] == "after"
        await sock.expect_silence(0.5)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="holds a table lock, which SQLite has no form of"
)
async def test_messages_relayed_while_a_gap_is_read_from_the_database_arrive_once(
    open_socket, alice, bob, public_room
):
    """A room's order waits on two gaps. While the fan-out reads the database for them, the
    first gap's event comes late and is relayed, with the message that waited on it; the
    database's answer holds both again. Each socket still gets every message once, in id
    order (two Daphne workers in `make bench` on 16 cores delivered 600 copies twice)."""
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    a = await open_socket(alice, public_room.slug)
    b = await open_socket(bob, public_room.slug)
    await a.send("message.send", body="first", client_id="gaps-1")
    for sock in (a, b):
        first = (await sock.expect("message"))["message"]
    late = await sync_to_async(Message.objects.create)(room=public_room, author=alice, body="late")

    async def post(body: str, client_id: str) -> None:
        """Sent, and stored before the test goes on."""
        await a.send("message.send", body=body, client_id=client_id)
        async with asyncio.timeout(5):
            while not await Message.objects.filter(client_id=client_id).aexists():  # noqa: ASYNC110
                await asyncio.sleep(0.02)

    await post("after late", "gaps-3")
    lost = await sync_to_async(Message.objects.create)(room=public_room, author=alice, body="lost")
    await post("after lost", "gaps-5")
    frame = await sync_to_async(lambda: protocol.message_frame(Message.objects.get(pk=late.pk)))()
    settings = connection.settings_dict
    locker = await psycopg.AsyncConnection.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
    )
    try:
        # The fan-out's read of the missing messages waits behind this lock.
        await locker.execute("LOCK TABLE chat_room IN ACCESS EXCLUSIVE MODE")
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        async with asyncio.timeout(10):
            while not (await (await locker.execute(waiting)).fetchone())[0]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await broadcast.to_room(public_room.pk, frame, follows=first["id"], author_id=alice.pk)
        for sock in (a, b):
            assert (await sock.expect("message"))["message"]["id"] == late.pk
            assert (await sock.expect("message"))["message"]["body"] == "after late"
    finally:
        await locker.rollback()
        await locker.close()
    for sock in (a, b):
        assert (await sock.expect("message", timeout=5))["message"]["id"] == lost.pk
        assert (await sock.expect("message"))["message"]["body"] == "after lost"
        await sock.expect_silence(1)


async def test_a_redis_restart_mid_stream_loses_nothing_accepted(
    daphne, alice, bob, public_room, tmp_path
):
    await sync_to_async(rooms.open_room)(user=bob, slug=public_room.slug)
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    try:
        env = {**FAST, "REDIS_URL": redis.url}
        one, two = daphne(**env), daphne(**env)
        sender = await _client(alice, [one, two], public_room.slug)
        receiver = await _client(bob, [two, one], public_room.slug)
        for n in range(50):
            await sender.send(f"before {n}")
        await sender.wait_for(lambda c: not c.pending)
        redis.stop()
        assert await asyncio.to_thread(_health, one) == 503
        for n in range(50):  # refused with an error frame, or queued by the client: never lost
            await sender.send(f"during {n}")
            await asyncio.sleep(0.01)
        redis.start()
        # Pooled connections to the old server fail once each; health comes back within seconds.
        async with asyncio.timeout(15):
            while await asyncio.to_thread(_health, one) != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        for n in range(50):
            await sender.send(f"after {n}")
        stored = await _everyone_has_everything([receiver], sender, public_room)
        assert len(stored) == 150 == len({c for _, c in stored})
        assert [m["id"] for m in receiver.ordered()] == [i for i, _ in stored]
        assert all(e["code"] == "unavailable" for e in sender.errors)
        # Group memberships came back: a message now reaches the receiver live.
        await sender.send("live again")
        await receiver.wait_for(lambda c: c.ordered()[-1]["body"] == "live again")
        await sender.stop()
        await receiver.stop()
    finally:
        redis.stop()


class _DatabaseOutage:
    """Takes the test database away from the Daphne workers and gives it back.

    SQLite: the file moves aside (a worker opening the path finds an empty database). Root
    ignores file permissions, so making the file read-only would prove nothing here.
    PostgreSQL: the workers reach the server through a TCP proxy, which stops forwarding.
    """

    def __init__(self, tmp_path: Path) -> None:
        settings = connection.settings_dict
        self.sqlite = settings["ENGINE"].endswith("sqlite3")
        self.path = Path(settings["NAME"])
        self.aside = tmp_path / "database-aside"
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.upstream = (settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
        if not self.sqlite:
            name = settings["NAME"]
            self.url = (
                f"postgres://{settings['USER']}:{settings['PASSWORD']}@127.0.0.1:{self.port}/{name}"
            )

    async def up(self) -> None:
        if self.sqlite:
            if self.aside.exists():
                shutil.move(self.aside, self.path)
            return
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self.sqlite:
            shutil.move(self.path, self.aside)
            return
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _link(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.links.update({writer, up_writer})

        async def pipe(source, sink) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_database_outage_answers_errors_and_sending_resumes_afterwards(
    daphne, alice, public_room, tmp_path
):
    outage = _DatabaseOutage(tmp_path)
    await outage.up()
    # In a thread: the worker reaches PostgreSQL through the proxy, which runs on this loop.
    worker = await asyncio.to_thread(
        daphne, **({} if outage.sqlite else {"DATABASE_URL": outage.url})
    )
    sock = await worker.connect(alice, public_room.slug)
    await sock.send("message.send", body="before", client_id="db-1")
    await sock.expect("message")
    await outage.down()
    try:
        await sock.send("message.send", body="during", client_id="db-2")
        error = await sock.expect("error", timeout=10)
        assert error["code"] == "unavailable"
        await sock.roundtrip()  # the socket stays open
    finally:
        await outage.up()
    await sock.send("message.send", body="during", client_id="db-2")  # the client retries
    assert (await sock.expect("message", timeout=10))["message"]["body"] == "during"
    stored = await sync_to_async(_stored)(public_room)
    assert [c for _, c in stored] == ["db-1", "db-2"]


async def test_a_client_that_stops_reading_is_dropped_and_slows_nobody(
    daphne, alice, bob, carol, public_room
):
    """Daphne pings every socket; one that stops reading cannot answer and is dropped, so what
    the server buffers for it is bounded by the ping interval and timeout (docs/reliability.md).
    """
    for user in (bob, carol):
        await sync_to_async(rooms.open_room)(user=user, slug=public_room.slug)
    worker = daphne("--ping-interval", "1", "--ping-timeout", "2", **FAST)
    cookie = await sync_to_async(session_cookie)(carol)
    slow = await websockets.connect(
        _url(worker, public_room.slug),
        additional_headers={"Cookie": f"sessionid={cookie}"},
        origin=f"http://127.0.0.1:{worker.port}",
        max_queue=1,  # stop reading from the network as soon as one frame waits
    )
    # Its handshake is accepted before it opens the room: it is present once `ready` came.
    assert json.loads(await asyncio.wait_for(slow.recv(), 10))["type"] == "ready"
    fast = await _client(bob, [worker], public_room.slug)
    sender = await _client(alice, [worker], public_room.slug)
    assert "carol" in fast.online
    body = "x" * 3990
    count = 1500  # 6 MB of frames for the slow socket, far more than any socket buffer
    for n in range(count):
        await sender.send(f"{n:04} {body}")
    # The server lets go of the slow socket while the others keep receiving.
    async with asyncio.timeout(60):
        await fast.wait_for(lambda c: "carol" not in c.online)
    await _everyone_has_everything([fast], sender, public_room, timeout=120)
    assert [m["id"] for m in fast.ordered()] == [m["id"] for m in sender.ordered()]
    assert len(fast.ordered()) == count
    received = 0
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                await slow.recv()
                received += 1
    assert received < count  # it was cut off, not fed everything
    await fast.stop()
    await sender.stop()


async def test_a_thousand_sockets_dropped_at_once_all_come_back_and_catch_up(
    daphne, make_user, alice, public_room
):
    users = [await sync_to_async(make_user)(f"user{n}") for n in range(10)]
    for user in users:
        await sync_to_async(rooms.open_room)(user=user, slug=public_room.slug)
    one, two = daphne(**FAST), daphne(**FAST)
    crowd = []
    for n in range(1000):
        crowd.append(asyncio.create_task(_client(users[n % 10], [one, two], public_room.slug)))
        if n % 50 == 49:
            await asyncio.gather(*crowd[-50:])
    clients = [task.result() for task in crowd]
    sender = await _client(alice, [two], public_room.slug)
    one.kill()  # every socket of the crowd drops at once
    for n in range(20):
        await sender.send(f"while you were away {n}")
    await _everyone_has_everything(clients, sender, public_room, timeout=120)
    assert all(client.connections == 2 for client in clients)
    assert all(len(client.messages) == 20 for client in clients)
    await asyncio.gather(*(client.stop() for client in clients), sender.stop())


async def test_sockets_closing_while_their_room_is_busy_leave_no_traceback(
    daphne, make_user, alice, public_room
):
    """A room event relayed to a socket whose close has begun is nobody's fault: the worker
    says nothing about it, let alone a traceback."""
    users = [await sync_to_async(make_user)(f"leaver{n}") for n in range(5)]
    for user in users:
        await sync_to_async(rooms.open_room)(user=user, slug=public_room.slug)
    worker = daphne(**FAST)
    leavers = [await _client(users[n % 5], [worker], public_room.slug) for n in range(40)]
    sender = await _client(alice, [worker], public_room.slug)

    async def chatter() -> None:
        for n in range(300):
            await sender.send(f"busy {n}")
            await asyncio.sleep(0.002)

    sending = asyncio.create_task(chatter())
    for client in leavers:
        await asyncio.sleep(0.01)
        await client.stop()
    await sending
    await _everyone_has_everything([], sender, public_room)
    log = worker.log.read_text()
    assert "Traceback" not in log and "failed" not in log, log[-3000:]
