"""The channel layer's `group_send` (chat.layers) on a real Redis: every member gets the
message once, a full channel is skipped, and an expired member gets nothing, whether it runs as
one script (one Redis, capacities by name prefix) or core's two steps; and the fan-out's batched
read."""

import asyncio
import time

import pytest
from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

from chat.layers import BATCH, WaitingRedisChannelLayer
from chat.redisconn import WaitingConnectionPool

CAPACITIES = {
    "one script": {"fanout.*": 3},
    "two steps": {"fan?ut.*": 3},  # not a plain prefix
}


@pytest.fixture
def layer_config(redis_server) -> dict:
    redis_server.command("FLUSHALL")
    return {"hosts": [{"address": redis_server.url, "socket_timeout": None}], "capacity": 1}


@pytest.mark.parametrize("capacities", CAPACITIES.values(), ids=CAPACITIES.keys())
async def test_each_member_gets_a_group_message_up_to_its_capacity(layer_config, capacities):
    layer = WaitingRedisChannelLayer(**layer_config, channel_capacity=capacities)
    other_process = RedisChannelLayer(**layer_config)
    local = await other_process.new_channel()  # core's process-local kind: "specific.x!y"
    for channel in ("fanout.a", "fanout.b", "plain", local):
        await layer.group_add("room.1", channel)
    await layer.group_add("room.1", "expired")
    stale = time.time() - layer.group_expiry - 10
    await layer.connection(0).zadd(layer._group_key("room.1"), {"expired": stale})

    for n in range(4):
        await layer.group_send("room.1", {"type": "chat.frame", "n": n})

    for channel in ("fanout.a", "fanout.b"):
        got = await layer.receive_batch(channel)
        assert [m["n"] for m in got] == [0, 1, 2]  # capacity 3, in order
        assert all("__asgi_channel__" not in m for m in got)
    assert [m["n"] for m in await layer.receive_batch("plain")] == [0]  # capacity 1
    assert (await other_process.receive(local))["n"] == 0  # routed to its channel in there
    redis = layer.connection(0)
    assert not await redis.exists(layer.prefix + "expired")
    assert await redis.zscore(layer._group_key("room.1"), "expired") is None
    await layer.flush()
    await other_process.flush()


async def test_a_group_with_no_members_takes_nothing(layer_config):
    layer = WaitingRedisChannelLayer(**layer_config, channel_capacity=CAPACITIES["one script"])
    await layer.group_send("room.2", {"type": "chat.frame"})
    assert await layer.connection(0).keys("*") == []
    await layer.flush()


async def test_a_batch_waits_for_the_first_message_and_takes_what_follows_in_order(
    layer_config,
):
    layer = WaitingRedisChannelLayer(**layer_config, channel_capacity={"fanout.*": 1000})
    waiting = asyncio.create_task(layer.receive_batch("fanout.w"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    for n in range(3):
        await layer.send("fanout.w", {"type": "chat.frame", "n": n})
    got = [m["n"] for m in await asyncio.wait_for(waiting, 5)]
    while len(got) < 3:
        got += [m["n"] for m in await layer.receive_batch("fanout.w")]
    assert got == [0, 1, 2]
    for n in range(BATCH + 20):
        await layer.send("fanout.w", {"type": "chat.frame", "n": n})
    first, second = await layer.receive_batch("fanout.w"), await layer.receive_batch("fanout.w")
    assert [m["n"] for m in first + second] == list(range(BATCH + 20))
    assert len(first) == BATCH
    await layer.flush()


async def test_a_crowd_larger_than_the_pool_queues_and_everyone_is_served(redis_server):
    """The pool's own path for a free connection (chat.redisconn) must still hand each one
    given back to whoever queues: forty callers on two connections, each holding one for
    50 ms, all answered within the pool's timeout and none refused."""
    redis_server.command("FLUSHALL")
    pool = WaitingConnectionPool.from_url(redis_server.url, max_connections=2, timeout=5)
    redis = aioredis.Redis.from_pool(pool)
    try:
        async with asyncio.timeout(10):
            answers = await asyncio.gather(
                *(redis.blpop([f"nothing.{n}"], timeout=0.05) for n in range(40))
            )
        assert answers == [None] * 40
        assert pool.waiting == 0
        assert len(pool._in_use_connections) == 0 and len(pool._available_connections) <= 2
        for n in range(5):  # one at a time: the free connection is taken again
            await redis.set("key", n)
        assert await redis.get("key") == b"4" and len(pool._available_connections) <= 2
    finally:
        await redis.aclose()
