"""The per-process fan-out (chat.fanout) and what it hands a socket: events no local socket
wants any more, and a socket that goes away in the middle of opening."""

import asyncio

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator

from chat import broadcast, fanout
from chatsite.asgi import application

from .conftest import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def test_events_for_a_user_with_no_socket_here_leave_the_worker_relaying(
    open_socket, alice, bob, members
):
    """The user's last socket on this worker left after the events were sent (an account
    deleted: a close, then one per room), or the worker's leaving their group failed."""
    a = await open_socket(alice, members.slug)
    process = fanout.current()
    gone = broadcast.user_group(bob.pk + 1000)
    for event in (
        {"type": "chat.close", "group": gone, "code": 4403, "session": None, "room": None},
        {"type": "chat.frame", "group": gone, "text": '{"type": "notify"}', "skip_room": None},
        {"type": "chat.conversation", "group": gone, "room": members.pk, "joined": False},
    ):
        await process.layer.send(process.channel, event)
    await a.send("message.send", body="still relayed")
    assert (await a.expect("message"))["message"]["body"] == "still relayed"


async def test_a_socket_cancelled_while_it_opens_hears_nothing_more(alice, public_room):
    """Daphne cancels a consumer that outlives the connection by `application_close_timeout`:
    one cancelled after it began to hear its user's events, before `ready`, leaves them."""
    cookie = await sync_to_async(session_cookie)(alice)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/rooms/{public_room.slug}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", ORIGIN),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )
    await communicator.connect(timeout=5)
    process = fanout.current()
    group = broadcast.user_group(alice.pk)
    async with asyncio.timeout(5):
        while group not in process.users:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    assert group not in process.users
    assert broadcast.room_group(public_room.pk) not in process.rooms
