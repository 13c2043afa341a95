"""The Redis channel layer, with a connection pool that waits instead of failing.

channels-redis builds a plain redis-py pool, and redis-py 8 caps it at 100 connections and
raises `MaxConnectionsError` past that. A thousand sockets opening or closing at once then fail
their `group_add` / `group_discard`: they are refused, or stay behind in Redis as stale group
members. A blocking pool makes the crowd queue for a connection for a few seconds instead.
"""

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

POOL_TIMEOUT = 10  # seconds a task waits for a free connection before the call fails


class WaitingRedisChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        host = dict(self.hosts[index])
        return aioredis.BlockingConnectionPool.from_url(
            host.pop("address"), timeout=POOL_TIMEOUT, **host
        )
