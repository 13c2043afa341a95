"""A Python client of the chat protocol, with the browser client's guarantees.

For bots, a terminal client, tests and benchmarks. It imports nothing from Django. Like
`static/chat/chat.js` it reconnects by itself (exponential backoff with full jitter, across
several server URLs), catches up after a reconnect with `history after=<last id>`, and re-sends
every unconfirmed message with its original `client_id`, which the server stores at most once.
It also asks `history after=<last id>` every `sync_interval` seconds while connected: a worker
that dies between storing a message and broadcasting it leaves the other sockets unaware of
it, and this is how they learn of it. A message still unconfirmed a whole interval later is
sent again with its `client_id` (its broadcast may have been lost). What it holds after a run
is therefore every message of the room, each once, in id order.

    client = ChatClient(["ws://127.0.0.1:8001/ws/rooms/general/"], cookie="sessionid=...")
    async with asyncio.timeout(10):
        await client.start()
    await client.send("hello")
    await client.stop()
"""

import asyncio
import itertools
import json
import random
import uuid
from collections.abc import Sequence
from typing import Any

import websockets

# The server ended this session for good: reconnecting will not help.
FINAL_CLOSE_CODES = {4401, 4403, 4404}
FLOODING = 4429
# A send refused with these is tried again later; any other refusal is final.
RETRIED_ERRORS = {"unavailable", "rate_limited"}
UNAVAILABLE_RETRY = 1.0
# An accepted socket that sends no `ready` by then is given up on. Generous: a server working
# through a reconnect storm is slow, not dead (keepalive pings detect dead connections), and
# giving up early only makes the storm worse.
READY_TIMEOUT = 60.0


def site_origin(url: str) -> str:
    """The origin of the site a socket URL belongs to, which a cookie-authenticated handshake
    must name (`ws://host:port/...` is the site `http://host:port`)."""
    scheme, rest = url.split("://", 1)
    return f"{'https' if scheme == 'wss' else 'http'}://{rest.split('/', 1)[0]}"


class ChatClosed(Exception):
    """The server refused the connection for good (4401, 4403 or 4404)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"closed by the server with {code}")
        self.code = code


class ChatClient:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        cookie: str = "",
        origin: str | None = None,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        page: int = 100,
        sync_interval: float = 30.0,
    ) -> None:
        self.urls = list(urls)
        self.headers = {"Cookie": cookie} if cookie else {}
        self.origin = origin
        self.backoff, self.max_backoff, self.page = backoff, max_backoff, page
        self.sync_interval = sync_interval
        self.messages: dict[int, dict[str, Any]] = {}  # id -> message, every one seen
        self.pending: dict[str, str] = {}  # client_id -> body, sent but not confirmed
        self.confirmed: dict[str, dict[str, Any]] = {}  # client_id -> the stored message
        self.failed: dict[str, dict[str, Any]] = {}  # client_id -> the error refusing it
        self.errors: list[dict[str, Any]] = []
        self.online: list[str] = []
        self.connections = 0
        self.last_failure: BaseException | None = None  # why the last connection ended
        self.ready = asyncio.Event()
        self.closed: ChatClosed | None = None
        self._socket: websockets.ClientConnection | None = None
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self._urls = itertools.cycle(self.urls)

    # The public side.

    @property
    def last_id(self) -> int | None:
        return max(self.messages) if self.messages else None

    def ordered(self) -> list[dict[str, Any]]:
        return [self.messages[i] for i in sorted(self.messages)]

    async def start(self) -> None:
        """Connect, and return once the first `ready` has arrived (bound it with a timeout)."""
        self._task = asyncio.create_task(self._run())
        await self.ready.wait()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._socket:
            await self._socket.close()

    async def send(self, body: str, *, client_id: str | None = None) -> str:
        """Queue a message; it is sent now if connected, else after the next reconnect."""
        client_id = client_id or uuid.uuid4().hex
        self.pending[client_id] = body
        if self.ready.is_set():
            await self._send_frame({"type": "message.send", "body": body, "client_id": client_id})
        return client_id

    async def wait_for(self, predicate) -> None:
        """Until `predicate(self)` holds, re-checked whenever something arrives."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    # The connection loop.

    async def _run(self) -> None:
        failures = 0
        while True:
            url = next(self._urls)
            try:
                async with websockets.connect(
                    url,
                    additional_headers=self.headers,
                    origin=self.origin or site_origin(url),
                    open_timeout=10,
                ) as socket:
                    self._socket = socket
                    failures = 0
                    await self._session(socket)
            except websockets.ConnectionClosed as closed:
                self.last_failure = closed
                code = closed.rcvd.code if closed.rcvd else 1006
                if code in FINAL_CLOSE_CODES:
                    self.closed = ChatClosed(code)
                    await self._notify()
                    return
                failures = max(failures, 4) if code == FLOODING else failures
            except Exception as exc:
                # Whatever broke this connection (a refused handshake, a reset, a frame we do
                # not understand), the client's promise is to come back: it never stops here.
                self.last_failure = exc
            self._socket = None
            self.ready.clear()
            failures += 1
            # Full jitter: a crowd of clients dropped together does not return together.
            delay = min(self.max_backoff, self.backoff * 2**failures)
            await asyncio.sleep(random.uniform(0, delay))

    async def _session(self, socket: websockets.ClientConnection) -> None:
        caught_up_from = self.last_id
        # Everything unconfirmed when the last connection dropped is sent again, even what the
        # new `ready` shows stored: such a message may have been stored by a worker that died
        # before broadcasting it, and the server's answer to the retry is to broadcast it to
        # the room (whose sockets, past it already, would otherwise never learn of it).
        unconfirmed = dict(self.pending)
        first = json.loads(await asyncio.wait_for(socket.recv(), READY_TIMEOUT))
        if first.get("type") != "ready":
            return  # not the protocol we speak: drop this connection and try again
        self.connections += 1
        self.online = first["online"]
        self._take(first["messages"])
        if caught_up_from is not None:
            await self._send_frame({"type": "history", "after": caught_up_from, "limit": self.page})
        # And what was queued while this connection opened.
        for client_id, body in {**unconfirmed, **self.pending}.items():
            await self._send_frame({"type": "message.send", "body": body, "client_id": client_id})
        self.ready.set()
        await self._notify()
        syncing = asyncio.create_task(self._sync())
        try:
            async for text in socket:
                await self._receive(json.loads(text))
        finally:
            syncing.cancel()

    async def _sync(self) -> None:
        unconfirmed: set[str] = set()
        while True:
            await asyncio.sleep(self.sync_interval)
            if self.last_id is not None:
                await self._send_frame(
                    {"type": "history", "after": self.last_id, "limit": self.page}
                )
            # Unconfirmed for a whole interval: its broadcast was lost (Redis restarted, say),
            # or the send was. The server stores a client_id once and answers a repeat by
            # broadcasting the original again, so asking again is always safe.
            for client_id in unconfirmed & self.pending.keys():
                await self._retry(client_id)
            unconfirmed = set(self.pending)

    def state(self) -> str:
        """One line on where this client stands, for logs and failure messages."""
        task = self._task
        if task is None or not task.done():
            loop = "running" if task else "not started"
        else:
            loop = "cancelled" if task.cancelled() else f"ended: {task.exception()!r}"
        return (
            f"connections={self.connections} ready={self.ready.is_set()} "
            f"messages={len(self.messages)} pending={len(self.pending)} loop={loop} "
            f"last_failure={self.last_failure!r}"
        )

    async def _receive(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message":
            self._take([frame["message"]])
        elif kind == "history":
            self._take(frame["messages"])
            if frame["has_more"] and frame["messages"]:
                after = frame["messages"][-1]["id"]
                await self._send_frame({"type": "history", "after": after, "limit": self.page})
        elif kind == "message.deleted":
            self.messages.pop(frame["id"], None)
        elif kind == "presence":
            self.online = frame["online"]
        elif kind == "error":
            self._refused(frame)
        await self._notify()

    def _refused(self, error: dict[str, Any]) -> None:
        self.errors.append(error)
        client_id = error.get("client_id")
        if client_id not in self.pending:
            return
        if error["code"] not in RETRIED_ERRORS:
            del self.pending[client_id]
            self.failed[client_id] = error
            return
        delay = error.get("retry_after") or UNAVAILABLE_RETRY
        asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.create_task(self._retry(client_id))
        )

    async def _retry(self, client_id: str) -> None:
        body = self.pending.get(client_id)
        if body is not None and self.ready.is_set():
            await self._send_frame({"type": "message.send", "body": body, "client_id": client_id})

    def _take(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.messages[message["id"]] = message
            client_id = message.get("client_id")
            if client_id in self.pending:
                del self.pending[client_id]
                self.confirmed[client_id] = message

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        socket = self._socket
        if socket is None:
            return  # pending messages go out again after the next `ready`
        try:
            await socket.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            pass  # the connection loop notices and reconnects

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
