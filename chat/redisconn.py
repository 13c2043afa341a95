"""Connections to Redis for the channel layer and the shared short-lived state: the pool, and
the Lua scripts sent over it.

redis-py 8 caps a plain async pool at its `max_connections` and raises `MaxConnectionsError`
past that: a thousand sockets opening or closing at once then failed their `group_add` /
`group_discard`, were refused, or stayed behind in Redis as stale group members. Its
`BlockingConnectionPool` makes the crowd queue for a connection for a few seconds instead.

But it pays for the queue on every command, also when a connection is free: an asyncio
condition, a timeout armed and disarmed, an async context manager made for a lock it does
not take, and metrics hooks, on taking and again on giving back. That was 6% to 8% of a
worker's time in A, where every room event costs a read and every post two scripts
(docs/performance.md, the sixth pass). Here a free connection is taken and given back
directly while nobody waits; whoever finds none waits as before, and while anyone waits
every connection goes back through the condition, which wakes them.
"""

from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.event import AsyncAfterConnectionReleasedEvent

_scripts: dict[str, AsyncScript] = {}


def script(source: str, client: aioredis.Redis) -> AsyncScript:
    """A Lua script sent by its digest, made once per process rather than once per call (its
    digest is hashed when it is made); call it with the `client` to run it on."""
    made = _scripts.get(source)
    if made is None:
        made = _scripts[source] = client.register_script(source)
    return made


class WaitingConnectionPool(aioredis.BlockingConnectionPool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = 0  # callers inside the blocking pool's `get_connection`

    def _direct(self) -> bool:
        """Nobody queues, and redis-py's maintenance mode (which locks the pool) is off."""
        return not self.waiting and not self._in_maintenance

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        if self._available_connections and self._direct():
            connection = self._available_connections.pop()
            self._in_use_connections.add(connection)
            try:
                await self.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self.waiting += 1
        try:
            return await super().get_connection(*args, **kwargs)
        finally:
            self.waiting -= 1

    async def release(self, connection: AbstractConnection) -> None:
        if not self._direct():
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():
            await connection.disconnect()
        self._available_connections.append(connection)
        # What redis-py does on every release: its listeners re-authenticate the connection
        # where a streaming credential provider has a new token.
        await self._event_dispatcher.dispatch_async(AsyncAfterConnectionReleasedEvent(connection))
