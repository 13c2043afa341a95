"""Per-process fan-out: each worker process joins a room's group once and relays to its sockets.

With one layer channel per socket, a message to a room of N sockets costs N channel pushes in
Redis inside `group_send`, then N layer reads and N consumer dispatches, each a task switch
and a trip through the consumer's event loop: 150-270 µs of server CPU per delivered frame.
Here the group's members are worker processes, not sockets: `group_send` pushes one event per
worker, the worker reads it once, and sends the one encoded text to each of its sockets on the
room directly. Per-user groups (direct messages, notifications, closes) stay per socket; they
are small and rare.

A socket subscribes before it reads its room's snapshot, so nothing committed after the
snapshot can pass it by, and its frames are held until it has sent `ready`, so that `ready`
is always its first frame.
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

# `deliver(event, message)`: `message` is the event's `websocket.send`, built once for all sockets.
Deliver = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]
RECEIVE_RETRY = 0.5  # seconds between attempts to read the process channel while Redis is away


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


class Fanout:
    """The process's one layer channel for room events, and the local sockets of each room."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel = ""
        self.rooms: dict[str, set[Subscription]] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: list[asyncio.Task] = []

    async def subscribe(self, group: str, deliver: Deliver) -> Subscription:
        """Join `group` for the process and return the socket's held subscription."""
        if not self.channel:
            # A plain channel, not a process-specific one (`specific.…!…`): channels-redis
            # reads those through one lock shared with every consumer of the process.
            self.channel = f"fanout.{uuid.uuid4().hex}"
            self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._renew())]
        subscription = Subscription(group, deliver)
        async with self._exclusive(group):
            # Every time, not only for the first socket: Redis may have lost the membership
            # (a restart) since, and a socket that catches up must hear what comes next.
            await self.layer.group_add(group, self.channel)
            self.rooms.setdefault(group, set()).add(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Leave; the last local socket of a room takes the process out of its group."""
        group = subscription.group
        async with self._exclusive(group):
            members = self.rooms.get(group)
            if members is None or subscription not in members:
                return
            members.discard(subscription)
            if not members:
                del self.rooms[group]
                await self.layer.group_discard(group, self.channel)

    def _exclusive(self, group: str) -> "_GroupLock":
        return _GroupLock(self._locks, group)

    async def _read(self) -> None:
        failing = False
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except Exception:
                if not failing:
                    log.warning("Reading room events failed; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(RECEIVE_RETRY)
                continue
            if failing:
                log.warning("Reading room events again")
                failing = False
            message = {"type": "websocket.send", "text": event["text"]}
            for subscription in tuple(self.rooms.get(event.get("group", ""), ())):
                await subscription.push(event, message)

    async def _renew(self) -> None:
        """Re-join every group now and then: it refreshes the layer's group expiry, and
        restores the memberships Redis lost if it restarted."""
        while True:
            await asyncio.sleep(settings.CHAT_HEARTBEAT_INTERVAL)
            for group in tuple(self.rooms):
                try:
                    await self.layer.group_add(group, self.channel)
                except Exception:
                    log.warning("Renewing a room group failed; retrying", exc_info=True)
                    break


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
