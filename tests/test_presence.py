"""Who is online: right with several tabs, and with sockets that vanished without a close."""

import asyncio

import pytest

from chat import presence

pytestmark = pytest.mark.django_db(transaction=True)


async def _presence_becomes(sock, online: list[str], timeout: float = 3) -> None:
    """Presence frames repeat the whole list; wait for one that says `online`."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen = []
    while asyncio.get_running_loop().time() < deadline:
        try:
            frame = await sock.recv(timeout=max(deadline - asyncio.get_running_loop().time(), 0.01))
        except TimeoutError:
            break
        if frame["type"] == "presence":
            seen.append(frame["online"])
            if frame["online"] == online:
                return
    raise AssertionError(f"presence never became {online}; saw {seen}")


async def _presence_frames(sock, seconds: float) -> list[list[str]]:
    frames = []
    try:
        while True:
            frame = await sock.recv(timeout=seconds)
            if frame["type"] == "presence":
                frames.append(frame["online"])
    except TimeoutError:
        return frames


async def test_joining_and_leaving_is_announced(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    assert a.ready["online"] == ["alice"]
    b = await open_socket(bob, public_room.slug)
    assert b.ready["online"] == ["alice", "bob"]
    await _presence_becomes(a, ["alice", "bob"])
    await b.close()
    await _presence_becomes(a, ["alice"])


async def test_a_second_tab_closing_keeps_the_user_online(open_socket, alice, bob, public_room):
    a = await open_socket(alice, public_room.slug)
    b1 = await open_socket(bob, public_room.slug)
    await _presence_becomes(a, ["alice", "bob"])
    b2 = await open_socket(bob, public_room.slug)
    assert b2.ready["online"] == ["alice", "bob"]
    await b1.close()
    # bob is still online in his other tab: nothing may say otherwise
    assert all("bob" in online for online in await _presence_frames(a, 0.5))
    await b2.close()
    await _presence_becomes(a, ["alice"])


async def test_a_socket_that_vanished_without_closing_expires(
    open_socket, alice, public_room, settings
):
    """A worker killed mid-session leaves entries behind; live sockets' heartbeats prune them."""
    settings.CHAT_HEARTBEAT_INTERVAL = 0.2
    settings.CHAT_PRESENCE_TTL = 0.6
    await presence.join(public_room.pk, presence.entry("ghost", "dead-worker!channel"))
    a = await open_socket(alice, public_room.slug)
    assert a.ready["online"] == ["alice", "ghost"]
    await _presence_becomes(a, ["alice"], timeout=5)


async def test_a_live_socket_stays_online_past_the_ttl(
    open_socket, alice, bob, public_room, settings, monkeypatch
):
    """One heartbeat refreshes the process's sockets in batches: here one socket per batch."""
    monkeypatch.setattr(presence, "BEAT_BATCH", 1)
    settings.CHAT_HEARTBEAT_INTERVAL = 0.2
    settings.CHAT_PRESENCE_TTL = 0.6
    a = await open_socket(alice, public_room.slug)
    await open_socket(bob, public_room.slug)
    await asyncio.sleep(1.5)  # over twice the TTL: only heartbeats keep the entries
    online, _ = await presence.online(public_room.pk)
    assert online == ["alice", "bob"]
    await a.roundtrip()
