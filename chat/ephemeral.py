"""Short-lived state shared by every worker: presence entries, throttles and rate-limit buckets.

With `REDIS_URL` set it lives in Redis, so all Daphne processes agree; without it (one process,
the in-memory channel layer) it lives in this process. Both stores answer the same calls.
Nothing here is worth a database write: it all expires by itself.
"""

import asyncio
import time
import weakref
from typing import Any, Protocol

from django.conf import settings
from redis import asyncio as aioredis

from .redisconn import WaitingConnectionPool, script


class Store(Protocol):
    async def touch_all(self, entries: list[tuple[str, str]], ttl: float) -> list[int]: ...
    async def count(self, key: str, member: str, ttl: float) -> int: ...
    async def drop(self, key: str, member: str) -> None: ...
    async def alive(self, key: str) -> tuple[list[str], bool]: ...
    async def enter(self, key: str, member: str, ttl: float) -> tuple[list[str], bool]: ...
    async def claim(self, key: str, ttl: float) -> bool: ...
    async def put(self, key: str, value: str, ttl: float) -> None: ...
    async def take(self, key: str) -> str | None: ...
    async def take_token(self, key: str, capacity: int, period: float) -> float: ...


class MemoryStore:
    """For a single process; a sorted set becomes a dict of member to expiry time."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, float]] = {}
        self.claims: dict[str, float] = {}
        self.values: dict[str, tuple[str, float]] = {}
        self.buckets: dict[str, tuple[float, float]] = {}

    async def _touch(self, key: str, member: str, ttl: float) -> int:
        now = time.monotonic()
        members = self.sets.setdefault(key, {})
        members[member] = now + ttl
        expired = [m for m, until in members.items() if until < now]
        for gone in expired:
            del members[gone]
        return len(expired)

    async def touch_all(self, entries: list[tuple[str, str]], ttl: float) -> list[int]:
        return [await self._touch(key, member, ttl) for key, member in entries]

    async def count(self, key: str, member: str, ttl: float) -> int:
        await self._touch(key, member, ttl)
        return len(self.sets[key])

    async def drop(self, key: str, member: str) -> None:
        self.sets.get(key, {}).pop(member, None)

    async def alive(self, key: str) -> tuple[list[str], bool]:
        now = time.monotonic()
        members = self.sets.get(key, {})
        expired = [m for m, until in members.items() if until < now]
        for member in expired:
            del members[member]
        return list(members), bool(expired)

    async def enter(self, key: str, member: str, ttl: float) -> tuple[list[str], bool]:
        before = await self.alive(key)
        await self._touch(key, member, ttl)
        return before

    async def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if self.claims.get(key, 0) > now:
            return False
        self.claims[key] = now + ttl
        return True

    async def put(self, key: str, value: str, ttl: float) -> None:
        self.values[key] = (value, time.monotonic() + ttl)

    async def take(self, key: str) -> str | None:
        value, until = self.values.pop(key, (None, 0.0))
        return value if until > time.monotonic() else None

    async def take_token(self, key: str, capacity: int, period: float) -> float:
        now = time.monotonic()
        tokens, stamp = self.buckets.get(key, (float(capacity), now))
        tokens = min(capacity, tokens + (now - stamp) * capacity / period)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) * period / capacity


# A token bucket in one round trip: KEYS[1] the bucket, ARGV capacity, period (s), now (s).
# Returns 0 when a token was taken, else the seconds until one is due (as a string).
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * capacity / period)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) * period / capacity end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
return tostring(wait)
"""
# A socket's entry added or refreshed, the expired ones dropped: how many are left. KEYS[1] the
# set, ARGV the member, now, ttl (s), the set's own expiry (s).
_COUNT = """
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
# The same arguments: the expired entries dropped (how many), the live ones before this member,
# then the member added.
_ENTER = """
local now = tonumber(ARGV[2])
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {removed, members}
"""


class RedisStore:
    """Sorted sets scored by expiry time; a client per event loop, as redis-py requires. What
    a socket's opening calls is a script: one command to send and one reply to parse, where a
    pipeline of the same steps costs the worker several of each."""

    prefix = "chat:"

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self.clients.get(loop)
        if client is None:
            # A pool that waits for a free connection rather than failing (chat.redisconn).
            pool = WaitingConnectionPool.from_url(
                self.url,
                max_connections=settings.REDIS_MAX_CONNECTIONS,
                timeout=10,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=30,
            )
            client = aioredis.Redis.from_pool(pool)
            self.clients[loop] = client
        return client

    async def touch_all(self, entries: list[tuple[str, str]], ttl: float) -> list[int]:
        """For each set, add or refresh the member and drop the expired ones, in one round
        trip: how many entries each one dropped."""
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, member in entries:
                pipe.zadd(self.prefix + key, {member: now + ttl})
                pipe.expire(self.prefix + key, int(ttl) + 60)
                pipe.zremrangebyscore(self.prefix + key, "-inf", now)
            replies = await pipe.execute()
        return replies[2::3]

    async def count(self, key: str, member: str, ttl: float) -> int:
        """Add or refresh the member, then how many live members the set has: one round
        trip."""
        return await self._run(_COUNT, key, member, time.time(), ttl, int(ttl) + 60)

    async def drop(self, key: str, member: str) -> None:
        await self.redis.zrem(self.prefix + key, member)

    async def alive(self, key: str) -> tuple[list[str], bool]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self.prefix + key, "-inf", time.time())
            pipe.zrange(self.prefix + key, 0, -1)
            removed, members = await pipe.execute()
        return [m.decode() for m in members], bool(removed)

    async def enter(self, key: str, member: str, ttl: float) -> tuple[list[str], bool]:
        """The live members before this one came (the expired ones dropped, and whether there
        were any), then the member added: one round trip."""
        removed, members = await self._run(_ENTER, key, member, time.time(), ttl, int(ttl) + 60)
        return [m.decode() for m in members], bool(removed)

    async def claim(self, key: str, ttl: float) -> bool:
        return bool(await self.redis.set(self.prefix + key, 1, px=int(ttl * 1000), nx=True))

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self.redis.set(self.prefix + key, value, px=int(ttl * 1000))

    async def take(self, key: str) -> str | None:
        """Read and delete at once (GETDEL): a value taken once is gone for everyone."""
        value = await self.redis.getdel(self.prefix + key)
        return value.decode() if value is not None else None

    async def take_token(self, key: str, capacity: int, period: float) -> float:
        return float(await self._run(_TOKEN_BUCKET, key, capacity, period, time.time()))

    async def _run(self, source: str, key: str, *args: Any) -> Any:
        """A script on one key, sent by its digest."""
        redis = self.redis
        return await script(source, redis)(keys=[self.prefix + key], args=args, client=redis)


_store: Store | None = None


def store() -> Store:
    global _store
    if _store is None:
        _store = RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
    return _store
