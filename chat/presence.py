"""Who is online in a room, how many sockets a user holds, and the typing throttle.

A socket counts as online while its entry is fresh. Each process refreshes the entries of all
its sockets on one heartbeat (`keep`), in a few pipelined round trips rather than a task and a
round trip per socket, so a socket whose worker died without calling `disconnect` simply
expires, and the next heartbeat of any live socket in that room notices and announces the
change. Several tabs of one user are several entries and one name in the list.

Announcements are coalesced per room in each process: a crowd connecting and closing at once
(or one client doing it in a loop) costs the room one `presence` frame per
`CHAT_PRESENCE_COALESCE` seconds, not two per socket.
"""

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

from django.conf import settings

from . import broadcast
from .ephemeral import store

log = logging.getLogger(__name__)

# Room id to the task that will announce its online list: one per room at a time.
_announcing: dict[int, asyncio.Task] = {}
BEAT_BATCH = 250  # sockets refreshed per round trip on a heartbeat


def _key(room_id: int) -> str:
    return f"presence:{room_id}"


def entry(username: str, socket_id: str) -> str:
    return f"{username}:{socket_id}"


def _username(entry: str) -> str:
    # Usernames cannot contain ':' (Django's username validator), so the first one splits.
    return entry.split(":", 1)[0]


async def online(room_id: int) -> tuple[list[str], bool]:
    """The sorted usernames online in a room, and whether stale entries were just dropped."""
    entries, pruned = await store().alive(_key(room_id))
    return sorted({_username(e) for e in entries}), pruned


async def join(room_id: int, entry: str) -> tuple[list[str], bool]:
    """A socket arrives: the online list with it, and whether that list changed (it came, or
    stale entries of a worker that died expired)."""
    entries, pruned = await store().enter(_key(room_id), entry, settings.CHAT_PRESENCE_TTL)
    names = {_username(e) for e in entries}
    name = _username(entry)
    return sorted({*names, name}), pruned or name not in names


@dataclass(eq=False, slots=True)
class Beat:
    """What the heartbeat refreshes for one socket: its place among its user's sockets and,
    for a room socket, its presence `entry` on `room_id`."""

    user_id: int
    socket_id: str
    room_id: int | None = None
    entry: str = ""


class _Heart:
    """The sockets of one event loop (a worker has one loop; each test has its own)."""

    def __init__(self) -> None:
        self.beats: set[Beat] = set()
        self.task: asyncio.Task | None = None


_hearts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def keep(beat: Beat) -> None:
    """Refresh the socket's entries every `CHAT_HEARTBEAT_INTERVAL` until `forget`."""
    loop = asyncio.get_running_loop()
    heart = _hearts.get(loop)
    if heart is None:
        heart = _hearts[loop] = _Heart()
    heart.beats.add(beat)
    if heart.task is None:
        heart.task = loop.create_task(_beat(heart))


def forget(beat: Beat) -> None:
    heart = _hearts.get(asyncio.get_running_loop())
    if heart is not None:
        heart.beats.discard(beat)


async def _beat(heart: _Heart) -> None:
    """A socket that closed while its batch was on the way has its entries dropped again:
    the refresh may have landed after its own leaving, and it would seem online until its
    entry expired."""
    while True:
        started = time.monotonic()
        beats = list(heart.beats)
        for start in range(0, len(beats), BEAT_BATCH):
            batch = [beat for beat in beats[start : start + BEAT_BATCH] if beat in heart.beats]
            try:
                await _refresh(batch)
            except Exception:
                log.warning("Chat heartbeat failed; retrying next beat", exc_info=True)
            gone = [beat for beat in batch if beat not in heart.beats]
            try:
                for beat in gone:
                    await close_socket(beat.user_id, beat.socket_id)
                    if beat.room_id is not None:
                        await store().drop(_key(beat.room_id), beat.entry)
            except Exception:
                log.warning("Dropping closed sockets' entries failed", exc_info=True)
        elapsed = time.monotonic() - started
        await asyncio.sleep(max(0.0, settings.CHAT_HEARTBEAT_INTERVAL - elapsed))


async def _refresh(beats: list[Beat]) -> None:
    """Refresh these sockets' entries in one round trip, dropping any that expired, and
    announce the rooms where some did (joins and leaves announce themselves, so only expiry
    can change a list unseen)."""
    entries, rooms = [], []
    for beat in beats:
        entries.append((_sockets_key(beat.user_id), beat.socket_id))
        if beat.room_id is not None:
            entries.append((_key(beat.room_id), beat.entry))
            rooms.append((len(entries) - 1, beat.room_id))
    pruned = await store().touch_all(entries, settings.CHAT_PRESENCE_TTL)
    for room_id in {room_id for index, room_id in rooms if pruned[index]}:
        announce(room_id)  # an entry expired unseen: its worker died


async def leave(room_id: int, entry: str) -> list[str]:
    await store().drop(_key(room_id), entry)
    names, _ = await online(room_id)
    return names


def announce(room_id: int) -> None:
    """Broadcast the room's online list soon, read then: once however often it is asked for
    within `CHAT_PRESENCE_COALESCE` seconds."""
    loop = asyncio.get_running_loop()
    pending = _announcing.get(room_id)
    if pending is None or pending.done() or pending.get_loop() is not loop:
        _announcing[room_id] = loop.create_task(_announce(room_id))


async def _announce(room_id: int) -> None:
    try:
        await asyncio.sleep(settings.CHAT_PRESENCE_COALESCE)
    finally:
        if _announcing.get(room_id) is asyncio.current_task():
            del _announcing[room_id]
    try:
        names, _ = await online(room_id)
        await broadcast.presence(room_id, names)
    except Exception:
        log.warning("Announcing presence failed; the next change announces it", exc_info=True)


def _sockets_key(user_id: int) -> str:
    return f"sockets:{user_id}"


async def open_socket(user_id: int, socket_id: str) -> int:
    """Count a socket of the user (refreshed by its heartbeat, expiring like presence): how
    many the user has open now, this one included."""
    return await store().count(_sockets_key(user_id), socket_id, settings.CHAT_PRESENCE_TTL)


async def close_socket(user_id: int, socket_id: str) -> None:
    await store().drop(_sockets_key(user_id), socket_id)


async def may_announce_typing(room_id: int, user_id: int) -> bool:
    """At most one `typing` per user per room per interval, however many tabs they type in."""
    return await store().claim(f"typing:{room_id}:{user_id}", settings.CHAT_TYPING_INTERVAL)
