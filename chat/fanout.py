"""Per-process fan-out: each worker process joins a room's group once and relays to its sockets.

With one layer channel per socket, a message to a room of N sockets costs N channel pushes in
Redis inside `group_send`, then N layer reads and N consumer dispatches, each a task switch
and a trip through the consumer's event loop: 150-270 µs of server CPU per delivered frame.
Here the group's members are worker processes, not sockets: `group_send` pushes one event per
worker, the worker reads it once, and sends the one encoded text to each of its sockets on the
room directly. Per-user groups (direct messages, notifications, closes) have worker processes
as members too: a socket holds no layer channel of its own (no receive buffer, no pending read,
no task), and each event to a user is read once per worker and handed to that user's local
sockets (`listen`).

A socket subscribes before it reads its room's snapshot, so nothing committed after the
snapshot can pass it by, and its frames are held until it has sent `ready`, so that `ready`
is always its first frame.

New messages are relayed in id order. Ids follow commit order in a room, but two workers that
store a room's messages one after the other broadcast them independently, and the second
broadcast can reach Redis first; a client that heard id 6 before id 5, and reconnected in
between, would ask `history after=6` and never learn of 5. So each new message's event names
the message it follows (read under the room's lock, chat.messages), and one that arrives
before its predecessor waits for it. A predecessor that never comes (its worker died between
storing and broadcasting it, or Redis restarted) is read from the database after `GAP_WAIT`.

Every socket also watches the other rooms of its user (`Watch`), so that the sidebar's unread
counts move live for every conversation: the process joins the groups of all the rooms its
users are in, and turns a room's new message into one small `activity` frame for each local
socket of a member that is not on that room, instead of a copy of the message to every member.
A process joins a room's group once, however many of its sockets are on it or watch it.
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import broadcast, messages, protocol
from .layers import WaitingRedisChannelLayer
from .models import Room

log = logging.getLogger(__name__)

# `deliver(event, message)`: `message` is the event's `websocket.send`, built once for all sockets.
Deliver = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]
# `hear(event)`: a socket's handler for the events to its user's group.
Hear = Callable[[dict[str, Any]], Awaitable[None]]
RECEIVE_RETRY = 0.5  # seconds between attempts to read the process channel while Redis is away
GAP_WAIT = 2.0  # seconds a new message waits for the one it follows before the database is read
RENEW_BATCH = 500  # groups re-joined per round trip


class Subscription:
    """One socket's place in a room's fan-out; frames wait in `held` until `release()`."""

    def __init__(self, group: str, deliver: Deliver) -> None:
        self.group = group
        self.deliver = deliver
        self.held: list[tuple[dict[str, Any], dict[str, Any]]] | None = []

    async def push(self, event: dict[str, Any], message: dict[str, Any]) -> None:
        if self.held is not None:
            self.held.append((event, message))
            return
        try:
            await self.deliver(event, message)
        except Exception:
            log.warning("Relaying a room event to a socket failed", exc_info=True)

    async def release(self) -> None:
        """Send what was held, then let frames through as they come."""
        while self.held:
            await self.deliver(*self.held.pop(0))
        self.held = None


class Watch:
    """One socket's interest in the new messages of its user's rooms: `send(text)` delivers an
    `activity` frame. Its own room, if any, it hears in full instead."""

    def __init__(self, user_id: int, group: str | None, send: Callable[[str], Awaitable[None]]):
        self.user_id = user_id
        self.group = group
        self.send = send
        self.groups: set[str] = set()
        self.closed = False  # `unwatch` ran: an event still on its way may not add it back


class _Order:
    """Where a room's new messages stand in this process: the id relayed last, and the events
    waiting for the one they follow (keyed by it)."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.waiting: dict[int, dict[str, Any]] = {}
        self.filler: asyncio.Task | None = None


class Fanout:
    """The process's one layer channel for room and user events, and the local sockets of each
    room and each user."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel = ""
        self.rooms: dict[str, set[Subscription]] = {}
        self.watching: dict[str, set[Watch]] = {}
        self.users: dict[str, set[Hear]] = {}
        self.orders: dict[str, _Order] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: list[asyncio.Task] = []

    def _start(self) -> None:
        if not self.channel:
            # A plain channel, not a process-specific one (`specific.…!…`): channels-redis
            # reads those through one lock shared with every consumer of the process.
            self.channel = f"fanout.{uuid.uuid4().hex}"
            self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._renew())]

    async def subscribe(self, group: str, deliver: Deliver) -> Subscription:
        """Join `group` for the process and return the socket's held subscription."""
        self._start()
        subscription = Subscription(group, deliver)
        async with self._exclusive(group):
            # Every time, not only for the first socket: Redis may have lost the membership
            # (a restart) since, and a socket that catches up must hear what comes next.
            await self.layer.group_add(group, self.channel)
            self.rooms.setdefault(group, set()).add(subscription)
            self.orders.setdefault(group, _Order())
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Leave; the last local socket of a room takes the process out of its group."""
        group = subscription.group
        async with self._exclusive(group):
            if self._remove(self.rooms, group, subscription):
                order = self.orders.pop(group, None)
                if order is not None and order.filler is not None:
                    order.filler.cancel()
                await self._leave_if_unused(group)

    async def listen(self, group: str, hear: Hear) -> None:
        """Have `hear` called with each event to a user's group, until `unlisten`."""
        self._start()
        async with self._exclusive(group):
            # Every time, as `subscribe` does: a close sent after this socket opened must reach
            # it even if Redis lost the membership since the user's previous socket opened.
            await self.layer.group_add(group, self.channel)
            self.users.setdefault(group, set()).add(hear)

    async def unlisten(self, group: str, hear: Hear) -> None:
        async with self._exclusive(group):
            if self._remove(self.users, group, hear):
                await self._leave_if_unused(group)

    async def watch(self, watch: Watch, groups: list[str]) -> None:
        """Have `watch` hear of new messages in these groups' rooms (its user's)."""
        self._start()
        await asyncio.gather(*(self.watch_group(watch, group) for group in groups))

    async def watch_group(self, watch: Watch, group: str) -> None:
        """Registered before the group is joined: an `unwatch` meanwhile (the socket closing
        while the fan-out handles its user's `conversation`) then finds it and takes it out."""
        async with self._exclusive(group):
            if watch.closed:
                return
            first = not self._in_use(group)
            self.watching.setdefault(group, set()).add(watch)
            watch.groups.add(group)
            if first:
                await self.layer.group_add(group, self.channel)

    async def unwatch_group(self, watch: Watch, group: str) -> None:
        async with self._exclusive(group):
            watch.groups.discard(group)
            if self._remove(self.watching, group, watch):
                await self._leave_if_unused(group)

    async def unwatch(self, watch: Watch) -> None:
        watch.closed = True
        for group in tuple(watch.groups):
            await self.unwatch_group(watch, group)

    @staticmethod
    def _remove(registry: dict[str, set], group: str, member: object) -> bool:
        """Under the group's lock: take `member` out of the group's local sockets; whether it
        was the last one there (the group is then dropped from `registry`)."""
        members = registry.get(group)
        if members is None or member not in members:
            return False
        members.discard(member)
        if members:
            return False
        del registry[group]
        return True

    def _in_use(self, group: str) -> bool:
        return group in self.rooms or group in self.watching or group in self.users

    async def _leave_if_unused(self, group: str) -> None:
        """Under the group's lock: the process leaves a group none of its sockets needs."""
        if not self._in_use(group):
            await self.layer.group_discard(group, self.channel)

    def _exclusive(self, group: str) -> "_GroupLock":
        return _GroupLock(self._locks, group)

    async def _read(self) -> None:
        failing = False
        while True:
            try:
                events = await self._receive()
            except Exception:
                if not failing:
                    log.warning("Reading room events failed; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(RECEIVE_RETRY)
                continue
            if failing:
                log.warning("Reading room events again")
                failing = False
            for event in events:
                try:
                    await self._dispatch(event)
                except Exception:
                    log.warning("Relaying an event failed", exc_info=True)

    async def _dispatch(self, event: dict[str, Any]) -> None:
        group = event.get("group", "")
        if broadcast.is_user_group(group):
            # None of its sockets may be here any more: the last one left after it was sent.
            await self._tell(group, event)
            return
        if "slug" in event:
            await self._announce(event)
        order = self.orders.get(event.get("group", "")) if "follows" in event else None
        if order is None:
            await self._relay(event)
        elif order.last is not None and event["id"] <= order.last:
            return  # late: filling the gap relayed it from the database already
        elif order.last is None or event["follows"] <= order.last:
            await self._relay(event)
            order.last = event["id"]
            await self._release(order)
        else:
            order.waiting[event["follows"]] = event
            if order.filler is None:
                order.filler = asyncio.create_task(self._fill(event["group"], event["room"]))

    async def _release(self, order: _Order) -> None:
        while order.last in order.waiting:
            event = order.waiting.pop(order.last)
            await self._relay(event)
            order.last = event["id"]
        if not order.waiting and order.filler is not None:
            order.filler.cancel()
            order.filler = None

    async def _fill(self, group: str, room_id: int) -> None:
        """Once the room's order has stood still for `GAP_WAIT`, relay what is still missing
        from the database, then what waited. Under a steady stream from several workers some
        event is nearly always waiting for its predecessor, so the wait starts again whenever
        the gap it waited on closed: the database is read for a gap that lasts, not every
        `GAP_WAIT`. Events relayed while it is read are not relayed again from its answer."""
        order = self.orders[group]
        while True:
            last = order.last
            await asyncio.sleep(GAP_WAIT)
            if order.last == last:
                break
        try:
            missing = await database_sync_to_async(_missing)(
                room_id, after=order.last, limit=len(order.waiting) + 100
            )
        except Exception:
            log.warning("Reading messages missed by the fan-out failed", exc_info=True)
            missing = []
        for message in missing:
            if message.pk <= (order.last or 0):
                continue  # its own event came while the database was read
            text = protocol.encode(protocol.message_frame(message))
            order.last = message.pk  # first: its own event, coming meanwhile, is then late
            await self._relay({"type": "chat.frame", "group": group, "text": text, "skip": None})
        for follows in sorted(order.waiting):
            event = order.waiting.pop(follows, None)  # None: relayed while this one was sent
            if event is not None and event["id"] > (order.last or 0):
                order.last = event["id"]
                await self._relay(event)
        order.filler = None

    async def _announce(self, event: dict[str, Any]) -> None:
        """A new message: `activity` for the watchers of its room that are elsewhere, but for
        its author's. One text for all of them."""
        watchers = self.watching.get(event["group"])
        if not watchers:
            return
        frame = {"type": "activity", "room": event["slug"], "id": event["id"]}
        text = protocol.encode({**frame, "author": event["author"]})
        for watch in tuple(watchers):
            if watch.group != event["group"] and watch.user_id != event["author_id"]:
                try:
                    await watch.send(text)
                except Exception:
                    log.warning("Telling a socket of a room's activity failed", exc_info=True)

    async def _tell(self, group: str, event: dict[str, Any]) -> None:
        for hear in tuple(self.users.get(group, ())):
            if hear not in self.users.get(group, ()):
                continue  # left while an earlier socket was handling the event
            try:
                await hear(event)
            except Exception:
                log.warning("Handing a user's event to a socket failed", exc_info=True)

    async def _relay(self, event: dict[str, Any]) -> None:
        message = {"type": "websocket.send", "text": event["text"]}
        for subscription in tuple(self.rooms.get(event.get("group", ""), ())):
            await subscription.push(event, message)

    async def _receive(self) -> list[dict[str, Any]]:
        """What waits on the process channel: in batches from Redis (chat.layers), one by one
        from the in-memory layer of a single process."""
        if isinstance(self.layer, WaitingRedisChannelLayer):
            return await self.layer.receive_batch(self.channel)
        return [await self.layer.receive(self.channel)]

    async def _renew(self) -> None:
        """Re-join every group now and then: it refreshes the layer's group expiry, and
        restores the memberships Redis lost if it restarted. In batches of `RENEW_BATCH`;
        a group whose last socket left while its batch was on the way is left again, or the
        renewal would have put the worker back in it for a day (`group_expiry`)."""
        while True:
            await asyncio.sleep(settings.CHAT_HEARTBEAT_INTERVAL)
            groups = [*{*self.rooms, *self.watching, *self.users}]
            for start in range(0, len(groups), RENEW_BATCH):
                batch = groups[start : start + RENEW_BATCH]
                try:
                    await self._add_all(batch)
                    # Only a group unused now can have been left while the batch was on the
                    # way; one in use stays a member whatever happens next.
                    for group in [group for group in batch if not self._in_use(group)]:
                        async with self._exclusive(group):
                            await self._leave_if_unused(group)
                except Exception:
                    log.warning("Renewing groups failed; retrying", exc_info=True)
                    break

    async def _add_all(self, groups: list[str]) -> None:
        if isinstance(self.layer, WaitingRedisChannelLayer):
            await self.layer.group_add_many(groups, self.channel)
            return
        for group in groups:
            await self.layer.group_add(group, self.channel)


def _missing(room_id: int, *, after: int | None, limit: int) -> list:
    """The room's messages after `after`, with the room's own row: their frames name it."""
    room = Room.objects.get(pk=room_id)
    return messages.history(room=room, after=after or 0, limit=limit)[0]


class _GroupLock:
    """An asyncio lock per group, dropped again once nobody holds or waits for it."""

    def __init__(self, locks: dict[str, tuple[asyncio.Lock, int]], group: str) -> None:
        self.locks, self.group = locks, group

    async def __aenter__(self) -> None:
        lock, users = self.locks.get(self.group) or (asyncio.Lock(), 0)
        self.locks[self.group] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._drop_user()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.locks[self.group][0].release()
        self._drop_user()

    def _drop_user(self) -> None:
        lock, users = self.locks[self.group]
        if users == 1:
            del self.locks[self.group]
        else:
            self.locks[self.group] = (lock, users - 1)


_fanouts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def current() -> Fanout:
    """The fan-out of this event loop (a worker has one loop; each test has its own)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    layer = get_channel_layer()
    if fanout is None or fanout.layer is not layer:
        fanout = _fanouts[loop] = Fanout(layer)
    return fanout
