"""Who is online in a room, and the typing throttle.

A socket counts as online while its entry is fresh. The consumer refreshes the entry on a
heartbeat, so a socket whose worker died without calling `disconnect` simply expires, and the
next heartbeat of any live socket in that room notices and announces the change. Several tabs
of one user are several entries and one name in the list.
"""

from django.conf import settings

from .ephemeral import store


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


async def heartbeat(room_id: int, entry: str) -> list[str] | None:
    """Refresh a socket's entry, dropping any that expired. The online list only when some
    did: joins and leaves announce themselves, so only expiry can change it unseen. A beat is
    one round trip, however many sockets the room has."""
    if await store().touch(_key(room_id), entry, settings.CHAT_PRESENCE_TTL):
        names, _ = await online(room_id)
        return names
    return None


async def leave(room_id: int, entry: str) -> list[str]:
    await store().drop(_key(room_id), entry)
    names, _ = await online(room_id)
    return names


async def may_announce_typing(room_id: int, user_id: int) -> bool:
    """At most one `typing` per user per room per interval, however many tabs they type in."""
    return await store().claim(f"typing:{room_id}:{user_id}", settings.CHAT_TYPING_INTERVAL)
