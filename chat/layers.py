"""The Redis channel layer, with a pool that waits instead of failing and a batched read.

channels-redis builds a plain redis-py pool, and redis-py 8 caps it at 100 connections and
raises `MaxConnectionsError` past that. A thousand sockets opening or closing at once then fail
their `group_add` / `group_discard`: they are refused, or stay behind in Redis as stale group
members. A blocking pool makes the crowd queue for a connection for a few seconds instead.

`receive_batch` serves the per-process fan-out (chat.fanout), whose one channel carries every
room event of the worker. channels-redis' `receive` costs four Redis round trips per message
(a clean-up script, BZPOPMIN, and a backup queue written and cleared, so that a cancelled
receive loses nothing); read one by one, that capped a worker at about 400 room events/s, and
under more the channel overflowed and dropped events (docs/performance.md).
"""

from typing import Any

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

POOL_TIMEOUT = 10  # seconds a task waits for a free connection before the call fails
BATCH = 100  # messages taken off a channel in one round trip at most


class WaitingRedisChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        host = dict(self.hosts[index])
        return aioredis.BlockingConnectionPool.from_url(
            host.pop("address"), timeout=POOL_TIMEOUT, **host
        )

    async def receive_batch(self, channel: str) -> list[dict[str, Any]]:
        """The messages waiting on a plain channel (`send` and `group_send` order), up to
        `BATCH`, in one round trip; when there are none, wait for the next one.

        Without core's backup queue: a batch taken by a reader that is cancelled before it
        handled it is lost. The fan-out's reader is cancelled only when its process ends,
        and its sockets go with it.
        """
        assert self.require_valid_channel_name(channel, receive=True) and "!" not in channel
        connection = self.connection(self.consistent_hash(channel))
        key = self.prefix + channel
        popped = await connection.zpopmin(key, BATCH)
        if not popped:
            waited = await connection.bzpopmin(key, timeout=self.brpop_timeout)
            popped = [] if waited is None else [(waited[1], waited[2])]
        messages = [self.deserialize(member) for member, _ in popped]
        for message in messages:
            message.pop("__asgi_channel__", None)
        return messages
