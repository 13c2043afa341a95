"""The only module that sends to the channel layer (chat.fanout receives room events).

Group names come from ids (`room.42`, `user.17`), never from slugs or usernames, because the
layer allows only ASCII letters, digits, `-`, `_` and `.` in them. A frame is encoded once here
and every consumer in the group sends that same text to its socket.

Both room and user groups have worker processes as members, which relay to their sockets
(chat.fanout). Every event names its `group`. Layer events:
- to a room, `chat.frame` `{text, skip, group}`: send `text` unless the socket's user id is
  `skip`; a new message's also has `{room, id, follows}` (chat.fanout keeps their order) and
  `{slug, author, author_id}` (chat.fanout tells the room's members elsewhere: `activity`);
- to a room, `chat.presence` `{text, online, group}`: a presence frame; sockets also remember
  `online`;
- to a user, `chat.frame` `{text, skip_room}`: send `text` unless the socket is on room
  `skip_room` (which heard the news as a `message` already);
- to a user, `chat.close` `{code, session, room, token}`: close with `code` if `session` is
  null or the socket's own, `room` null or the socket's room, and `token` null or the API
  token the socket was opened with;
- to a user, `chat.conversation` `{room, joined, text}`: the user joined or left room `room`
  (an id): sockets watch it or stop (chat.fanout), and send `text` (`conversation` or
  `conversation.removed`).
"""

import asyncio
import hashlib
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import protocol

log = logging.getLogger(__name__)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def is_user_group(group: str) -> bool:
    return group.startswith("user.")


def session_digest(session_key: str | None) -> str | None:
    """Sockets are matched to a session by a digest, so raw session keys never enter Redis."""
    if not session_key:
        return None
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


async def _send(group: str, event: dict[str, Any]) -> None:
    await get_channel_layer().group_send(group, event)


async def to_room(
    room_id: int,
    frame: dict[str, Any],
    *,
    skip_user: int | None = None,
    follows: int | None = None,
    author_id: int | None = None,
) -> None:
    """`follows`: for a new message, the id of the room's message before it (0: none), so that
    the fan-out relays new messages in id order whichever worker stored them, and tells the
    members elsewhere (`activity`) but its author (`author_id`) (chat.fanout)."""
    group = room_group(room_id)
    event = {
        "type": "chat.frame",
        "group": group,
        "text": protocol.encode(frame),
        "skip": skip_user,
    }
    if follows is not None:
        message = frame["message"]
        event.update(
            room=room_id,
            id=message["id"],
            follows=follows,
            slug=message["room"],
            author=message["author"],
            author_id=author_id,
        )
    await _send(group, event)


async def to_user(user_id: int, frame: dict[str, Any], *, skip_room: int | None = None) -> None:
    group = user_group(user_id)
    await _send(
        group,
        {
            "type": "chat.frame",
            "group": group,
            "text": protocol.encode(frame),
            "skip_room": skip_room,
        },
    )


async def presence(room_id: int, online: list[str]) -> None:
    frame = {"type": "presence", "online": online}
    group = room_group(room_id)
    await _send(
        group,
        {"type": "chat.presence", "group": group, "text": protocol.encode(frame), "online": online},
    )


async def conversation(user_id: int, room_id: int, frame: dict[str, Any]) -> None:
    """The user now belongs to a room (`conversation`) or no longer (`conversation.removed`)."""
    group = user_group(user_id)
    await _send(
        group,
        {
            "type": "chat.conversation",
            "group": group,
            "room": room_id,
            "joined": frame["type"] == "conversation",
            "text": protocol.encode(frame),
        },
    )


async def close_user_sockets(
    user_id: int,
    code: int,
    *,
    session_key: str | None = None,
    room_id: int | None = None,
    token_id: int | None = None,
) -> None:
    """Close every socket of a user, or only those of one session, on one room, or opened with
    one API token."""
    group = user_group(user_id)
    await _send(
        group,
        {
            "type": "chat.close",
            "group": group,
            "code": code,
            "session": session_digest(session_key),
            "room": room_id,
            "token": token_id,
        },
    )


def on_commit(send: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any) -> None:
    """From synchronous service code: broadcast once the surrounding transaction has committed.

    A message is stored before anyone hears of it, so a client that catches up with `history`
    never misses what it was told about.
    """
    transaction.on_commit(lambda: _deliver(send(*args, **kwargs)))


def _deliver(broadcast: Awaitable[None]) -> None:
    """Hand a broadcast to the event loop of the consumer or view that called the service,
    without waiting for it.

    Service code runs in Channels' one database thread per process; waiting there for a
    group send to a large room would hold up every other socket's database work. Broadcasts
    are chained per loop, so they go out in the order their transactions committed. Plain
    synchronous callers (a shell, WSGI) have no loop and wait instead.
    """
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if (
        loop is None
        or not loop.is_running()
        or (getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid())
    ):
        async_to_sync(_await)(broadcast)
        return
    loop.call_soon_threadsafe(_chain, loop, broadcast)


_tails: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _chain(loop: asyncio.AbstractEventLoop, broadcast: Awaitable[None]) -> None:
    _tails[loop] = loop.create_task(_after(_tails.get(loop), broadcast))


async def _after(previous: asyncio.Task | None, broadcast: Awaitable[None]) -> None:
    if previous is not None:
        await previous
    try:
        await broadcast
    except Exception:
        log.warning("A broadcast failed; clients catch up with history", exc_info=True)


async def _await(broadcast: Awaitable[None]) -> None:
    await broadcast
