"""The Redis channel layer, with a pool that waits instead of failing and a batched read.

channels-redis builds a plain redis-py pool, which raises past its cap when a thousand sockets
open or close at once; this layer's pool queues them instead (chat.redisconn).

`receive_batch` serves the per-process fan-out (chat.fanout), whose one channel carries every
room event of the worker. channels-redis' `receive` costs four Redis round trips per message
(a clean-up script, BZPOPMIN, and a backup queue written and cleared, so that a cancelled
receive loses nothing); read one by one, that capped a worker at about 400 room events/s, and
under more the channel overflowed and dropped events (docs/performance.md).

`group_send` does what core's does in one round trip instead of four, and sends its scripts by
digest: every message of every room goes through it (docs/performance.md, issue 17).
`group_add` takes one round trip instead of two, and `group_add_many` one per shard for all
the groups a worker renews (chat.fanout).
"""

import logging
import time
from collections import defaultdict
from typing import Any

from channels_redis.core import RedisChannelLayer

from .redisconn import WaitingConnectionPool, script

POOL_TIMEOUT = 10  # seconds a task waits for a free connection before the call fails
BATCH = 100  # messages taken off a channel in one round trip at most

log = logging.getLogger(__name__)

# The group's members, once those not renewed within `group_expiry` are dropped.
_MEMBERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
# For each channel: drop its expired messages, then add this one unless it is full. ARGV: the
# messages, the capacities, the time, the expiry. Answers how many channels were full.
_PUSH = """
local n = #KEYS
local now = ARGV[2 * n + 1]
local expiry = tonumber(ARGV[2 * n + 2])
local full = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, tonumber(now) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        full = full + 1
    end
end
return full
"""
# One Redis: the group's members (expired ones dropped), and `_PUSH` for each that is a plain
# channel, as the fan-out's are. ARGV: the group's cutoff, the message, the key prefix, the
# time, the expiry, the default capacity, then pairs of a channel name prefix and its
# capacity. The message is one serialization for all: core adds `__asgi_channel__` only for
# process-local channels (with '!'), which are answered back to be sent core's way. The
# channels' keys are not among KEYS, as a standalone Redis allows (not a cluster).
_GROUP_PUSH = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local message, prefix, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local expiry, default = tonumber(ARGV[5]), tonumber(ARGV[6])
local full, localized = 0, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if string.find(member, '!', 1, true) then
        localized[#localized + 1] = member
    else
        local capacity = default
        for i = 7, #ARGV, 2 do
            if string.sub(member, 1, #ARGV[i]) == ARGV[i] then
                capacity = tonumber(ARGV[i + 1])
                break
            end
        end
        local key = prefix .. member
        redis.call('ZREMRANGEBYSCORE', key, 0, now - expiry)
        if redis.call('ZCARD', key) < capacity then
            redis.call('ZADD', key, now, message)
            redis.call('EXPIRE', key, expiry)
        else
            full = full + 1
        end
    end
end
return {full, localized}
"""


class WaitingRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args: Any, channel_capacity: dict | None = None, **kwargs: Any) -> None:
        super().__init__(*args, channel_capacity=channel_capacity, **kwargs)
        # `_GROUP_PUSH`'s arguments after the time and expiry, worked out once; None where
        # it cannot serve (several Redis shards, or capacities that are not name prefixes).
        capacities = _prefix_capacities(channel_capacity or {})
        self._group_push_args = (
            None
            if self.ring_size > 1 or capacities is None
            else [self.capacity, *(item for pair in capacities for item in pair)]
        )

    def create_pool(self, index: int) -> WaitingConnectionPool:
        host = dict(self.hosts[index])
        return WaitingConnectionPool.from_url(host.pop("address"), timeout=POOL_TIMEOUT, **host)

    async def group_add(self, group: str, channel: str) -> None:
        await self.group_add_many([group], channel)

    async def group_add_many(self, groups: list[str], channel: str) -> None:
        """Core's `group_add` (the member's time, the group's expiry) for each group, one
        pipelined round trip per Redis shard."""
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_shard[self.consistent_hash(group)].append(group)
        for index, names in by_shard.items():
            async with self.connection(index).pipeline(transaction=False) as pipe:
                for group in names:
                    pipe.zadd(self._group_key(group), {channel: time.time()})
                    pipe.expire(self._group_key(group), self.group_expiry)
                await pipe.execute()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Core's `group_send`: in one script where there is one Redis and the capacities are
        plain name prefixes (`fanout.*`), else in two."""
        assert self.require_valid_group_name(group), "Group name not valid"
        connection = self.connection(self.consistent_hash(group))
        key = self._group_key(group)
        cutoff = int(time.time()) - self.group_expiry
        if self._group_push_args is None:
            members = await script(_MEMBERS, connection)(
                keys=[key], args=[cutoff], client=connection
            )
            full = 0
        else:
            args = [cutoff, self.serialize(message), self.prefix, time.time(), self.expiry]
            full, members = await script(_GROUP_PUSH, connection)(
                keys=[key], args=[*args, *self._group_push_args], client=connection
            )
        if members:
            full += await self._push([member.decode("utf8") for member in members], message)
        if full:
            log.info("%s channels over capacity in group %s", full, group)

    async def _push(self, channels: list[str], message: dict[str, Any]) -> int:
        """Core's way: a message per channel key (with the names of its process-local
        channels), one script per Redis; how many channels were full."""
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            channels, message
        )
        full = 0
        for index, keys in by_connection.items():
            args = [messages[key] for key in keys] + [capacities[key] for key in keys]
            connection = self.connection(index)
            full += await script(_PUSH, connection)(
                keys=keys, args=[*args, time.time(), self.expiry], client=connection
            )
        return full

    async def receive_batch(self, channel: str) -> list[dict[str, Any]]:
        """The messages waiting on a plain channel (`send` and `group_send` order), up to
        `BATCH`; when there are none, wait for the next one. One command either way
        (BZMPOP, Redis 7.0 or later), where a pipeline of a BZPOPMIN and a ZPOPMIN cost
        redis-py twice the packing, parsing and pipeline bookkeeping for every batch, and a
        batch is one event most of the time (docs/performance.md, the fifth pass).

        Without core's backup queue: a batch taken by a reader that is cancelled before it
        handled it is lost. The fan-out's reader is cancelled only when its process ends,
        and its sockets go with it.
        """
        assert self.require_valid_channel_name(channel, receive=True) and "!" not in channel
        connection = self.connection(self.consistent_hash(channel))
        key = self.prefix + channel
        popped = await connection.bzmpop(self.brpop_timeout, 1, [key], min=True, count=BATCH)
        messages = [] if popped is None else [self.deserialize(member) for member, _ in popped[1]]
        for message in messages:
            message.pop("__asgi_channel__", None)
        return messages


def _prefix_capacities(channel_capacity: dict) -> list[tuple[str, int]] | None:
    """`channel_capacity` as (name prefix, capacity) pairs, if every pattern is a plain
    prefix and a star (the one-script `group_send` matches prefixes); else None."""
    pairs = []
    for pattern, capacity in channel_capacity.items():
        if not isinstance(pattern, str) or not pattern.endswith("*"):
            return None
        prefix = pattern[:-1]
        if any(c in prefix for c in "*?["):
            return None
        pairs.append((prefix, capacity))
    return pairs
