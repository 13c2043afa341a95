"""Who is online in a room, how many sockets a user holds, and the typing throttle.

A socket counts as online while its entry is fresh. The consumer refreshes the entry on a
heartbeat, so a socket whose worker died without calling `disconnect` simply expires, and the
next heartbeat of any live socket in that room notices and announces the change. Several tabs
of one user are several entries and one name in the list.

Announcements are coalesced per room in each process: a crowd connecting and closing at once
(or one client doing it in a loop) costs the room one `presence` frame per
`CHAT_PRESENCE_COALESCE` seconds, not two per socket.
"""

import asyncio
import logging

from django.conf import settings

from . import broadcast
from .ephemeral import store

log = logging.getLogger(__name__)

# Room id to the task that will announce its online list: one per room at a time.
_announcing: dict[int, asyncio.Task] = {}


def _key(room_id: int) -> str:
    return f"presence:{room_id}"


def entry(username: str, channel_name: str) -> str:
    # Usernames cannot contain ':' (Django's username validator), so the first one splits.
    return f"{username}:{channel_name}"


async def online(room_id: int) -> tuple[list[str], bool]:
    """The sorted usernames online in a room, and whether stale entries were just dropped."""
    entries, pruned = await store().alive(_key(room_id))
    return sorted({e.split(":", 1)[0] for e in entries}), pruned


async def join(room_id: int, entry: str) -> tuple[list[str], bool]:
    """A socket arrives: the online list with it, and whether that list changed."""
    before, _ = await online(room_id)
    pruned = await store().touch(_key(room_id), entry, settings.CHAT_PRESENCE_TTL)
    name = entry.split(":", 1)[0]
    if pruned:
        now, _ = await online(room_id)
    else:
        now = sorted({*before, name})
    return now, now != before


async def heartbeat(user_id: int, channel_name: str, room_id: int | None, entry: str) -> bool:
    """Refresh a socket's entries (among its user's sockets; on its room, if any), dropping any
    that expired; whether some on the room did (joins and leaves announce themselves, so only
    expiry can change the list unseen). One round trip, however many sockets the room has."""
    entries = [(_sockets_key(user_id), channel_name)]
    if room_id is not None:
        entries.append((_key(room_id), entry))
    pruned = await store().touch_all(entries, settings.CHAT_PRESENCE_TTL)
    return room_id is not None and bool(pruned[1])


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


async def open_socket(user_id: int, channel_name: str) -> int:
    """Count a socket of the user (refreshed by its heartbeat, expiring like presence): how
    many the user has open now, this one included."""
    return await store().count(_sockets_key(user_id), channel_name, settings.CHAT_PRESENCE_TTL)


async def close_socket(user_id: int, channel_name: str) -> None:
    await store().drop(_sockets_key(user_id), channel_name)


async def may_announce_typing(room_id: int, user_id: int) -> bool:
    """At most one `typing` per user per room per interval, however many tabs they type in."""
    return await store().claim(f"typing:{room_id}:{user_id}", settings.CHAT_TYPING_INTERVAL)
