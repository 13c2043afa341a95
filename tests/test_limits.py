"""What one account can make the server hold or do: sockets per user, bytes buffered for a socket
that does not read, frames that cost work, presence announcements, rooms and sign-ups."""

import base64
import os
import socket
import struct
import time

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from chat import messages, rooms
from chat.models import Report, Room

from .conftest import PASSWORD, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


# --- Sockets per user ------------------------------------------------------------------------


async def test_one_socket_too_many_for_a_user_closes_with_4429_counted_across_workers(
    daphne, alice, bob, members
):
    one, two = daphne(CHAT_SOCKETS_PER_USER="3"), daphne(CHAT_SOCKETS_PER_USER="3")
    held = [
        await one.connect(bob, members.slug),
        await two.connect(bob, members.slug),
        await one.connect(bob, members.slug),
    ]
    extra = await two.connect(bob, members.slug, expect_ready=False)
    assert await extra.expect_close() == 4429
    other = await two.connect(alice, members.slug)  # another user is not affected
    await other.roundtrip()
    await held[0].close()
    again = await two.connect(bob, members.slug)  # a slot came free
    await again.roundtrip()


# --- A socket that does not read -------------------------------------------------------------


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _frame(text: str) -> bytes:
    """A masked client text frame, as a browser sends it."""
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _stalled_socket(port: int, cookie: str) -> socket.socket:
    """A WebSocket whose client reads its handshake answer and then nothing more, through a
    tiny receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/rooms/general/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # Linux's TCP states after a reset, and after a FIN


def _dropped_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server ends the connection within `timeout`, seen in the TCP state without
    reading (which would let the server's writes through)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        if state in (TCP_CLOSE, TCP_CLOSE_WAIT):
            return True
        time.sleep(0.1)
    return False


async def test_a_socket_that_stops_reading_is_dropped_before_the_worker_grows(
    daphne, alice, bob, members
):
    """The finding: sockets that stop reading grew a worker by about 1 MB/s each. Here one asks
    for 100 pages of history (13 MB) without reading any; the worker drops it past 256 KiB."""
    for n in range(100):
        await sync_to_async(messages.post)(author=alice, room=members, body=(f"{n} " * 2000)[:4000])
    worker = daphne(CHAT_SOCKET_BUFFER_MAX=str(256 * 1024), CHAT_RATE_LIMITS="history=1000/1")
    other = await worker.connect(alice, members.slug)
    cookie = await sync_to_async(session_cookie)(bob)
    before = _rss(worker.process.pid)
    stalled = _stalled_socket(worker.port, cookie)
    try:
        for _ in range(100):  # pages of 128 KiB (protocol.MESSAGES_BUDGET)
            stalled.sendall(_frame('{"type": "history", "limit": 100}'))
        await other.roundtrip()  # everyone else is still served
        assert await sync_to_async(_dropped_by_server)(stalled, 20)
        grown = _rss(worker.process.pid) - before
    finally:
        stalled.close()
    assert grown < 16 * 1024 * 1024, f"the worker grew by {grown} bytes"
    await other.roundtrip()


# --- Frames that cost work -------------------------------------------------------------------


async def test_history_pages_are_rate_limited_per_user(open_socket, bob, members):
    b = await open_socket(bob, members.slug)
    for _ in range(30):  # the default burst
        await b.send("history", limit=100)
        await b.expect("history")
    await b.send("history", limit=100)
    error = await b.expect("error")
    assert error["code"] == "rate_limited" and error["retry_after"] > 0


async def test_reports_are_rate_limited_and_a_repeated_report_changes_nothing(
    open_socket, alice, bob, members
):
    posted = [
        (await sync_to_async(messages.post)(author=alice, room=members, body=f"{n}"))[0]
        for n in range(6)
    ]
    b = await open_socket(bob, members.slug)
    await b.send("message.report", id=posted[0].pk, reason="x" * 500)
    first = (await b.expect("report.ack"))["id"]
    await b.send("message.report", id=posted[0].pk, reason="again")
    assert (await b.expect("report.ack"))["id"] == first
    for message in posted[1:4]:
        await b.send("message.report", id=message.pk)
        await b.expect("report.ack")
    await b.send("message.report", id=posted[4].pk)
    assert (await b.expect("error"))["code"] == "rate_limited"
    assert await sync_to_async(Report.objects.count)() == 4


async def test_a_user_opening_and_closing_sockets_in_a_loop_costs_the_room_few_presence_frames(
    open_socket, alice, bob, members, settings
):
    """The finding: 30 connect/close cycles in 0.4 s sent 60 `presence` frames to everyone.
    (A window longer than the loop takes here, so the count does not depend on its speed.)"""
    settings.CHAT_PRESENCE_COALESCE = 5.0
    a = await open_socket(alice, members.slug)
    for _ in range(30):
        sock = await open_socket(bob, members.slug)
        await sock.close()
    heard = 0
    try:
        while True:
            frame = await a.recv(timeout=6.0)
            heard += frame["type"] == "presence"
    except TimeoutError:
        pass
    assert 1 <= heard <= 3, heard


async def test_opening_sockets_is_rate_limited(open_socket, bob, members, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "connect": (3, 60.0)}
    for _ in range(3):
        sock = await open_socket(bob, members.slug)
        await sock.close()
    refused = await open_socket(bob, members.slug, expect_ready=False)
    assert await refused.expect_close() == 4429


# --- Rooms and sign-ups ----------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_creating_rooms_is_rate_limited(alice):
    client = _client(alice)
    for _ in range(5):
        assert client.post("/rooms/new/", {"name": "spam", "kind": "public"}).status_code == 302
    refused = client.post("/rooms/new/", {"name": "spam", "kind": "public"})
    assert refused.status_code == 429 and b"too fast" in refused.content
    assert Room.objects.count() == 5


def test_a_taken_name_costs_one_query_not_one_per_room_that_has_it(
    alice, django_assert_max_num_queries
):
    for n in range(40):
        Room.objects.create(slug="spam" if n == 0 else f"spam-{n + 1}", name="spam")
    with django_assert_max_num_queries(8):
        room = rooms.create_room(creator=alice, name="spam", kind="public")
    assert room.slug.startswith("spam-") and Room.objects.filter(slug=room.slug).count() == 1


def test_the_lobby_lists_public_rooms_a_page_at_a_time(alice, bob):
    for n in range(60):
        Room.objects.create(slug=f"room-{n:02}", name=f"Room {n:02}")
    client = _client(bob)
    first = client.get("/").context["discover"]
    assert len(first.object_list) == 50 and first.has_next()
    second = client.get("/?page=2").context["discover"]
    assert len(second.object_list) == 10 and not second.has_next()
    assert client.get("/?page=nonsense").status_code == 200


def test_signups_are_rate_limited_per_address():
    def sign_up(name: str, address: str) -> int:
        return (
            Client(REMOTE_ADDR=address)
            .post(
                "/accounts/signup/",
                {"username": name, "password1": PASSWORD, "password2": PASSWORD},
            )
            .status_code
        )

    assert [sign_up(f"user{n}", "203.0.113.7") for n in range(5)] == [302] * 5
    assert sign_up("one-too-many", "203.0.113.7") == 429
    assert sign_up("elsewhere", "198.51.100.2") == 302
