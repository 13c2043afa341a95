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

A bot or a script authenticates with an API token instead (`token="chat_..."`, sent as
`Authorization: Bearer`, with no `Origin`). Programs that show messages as they come (the
terminal client, the bridge) pass `on_frame` and `on_state` hooks and take each message once, in
id order, with `take_new()`: it holds messages back while a reconnect's catch-up is under way,
so that what was missed comes out before what arrived live meanwhile.
"""

import asyncio
import itertools
import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import websockets

log = logging.getLogger(__name__)

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


# A handshake answered with this HTTP status is refused for good too (an authentication
# failure answered before the socket opens), reported as the close code it stands for.
FINAL_STATUSES = {401: 4401}


class ChatClosed(Exception):
    """The server refused the connection for good (4401, 4403 or 4404)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"closed by the server with {code}")
        self.code = code


FrameHook = Callable[[dict[str, Any]], None]
StateHook = Callable[[str, str], None]


class ChatClient:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        cookie: str = "",
        token: str = "",
        origin: str | None = None,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        page: int = 100,
        sync_interval: float = 30.0,
        on_frame: FrameHook | None = None,
        on_state: StateHook | None = None,
    ) -> None:
        """`cookie` (a session's, with the site's own `Origin`) or `token` (an API token, sent
        as `Authorization: Bearer` and with no `Origin` unless one is given) says who this is.
        `on_frame(frame)` is called with every frame from the server once this client has taken
        it in; `on_state(state, detail)` with `connecting`, `connected`, `disconnected` and
        `closed` (final). Both run in the event loop and must not block."""
        self.urls = list(urls)
        self.headers = {"Cookie": cookie} if cookie else {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.token = bool(token)
        self.origin = origin
        self.on_frame, self.on_state = on_frame, on_state
        self.me: dict[str, Any] = {}  # `ready`'s `me` and `room`, from the latest `ready`
        self.room: dict[str, Any] = {}
        self.catching_up = False  # a reconnect's `history after=` pages are still coming
        self.url = ""  # the one connected to, or being tried
        self._handed: set[int] = set()  # ids `take_new` has returned
        self._read_mark = 0  # the highest id `mark_read` sent
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

    def take_new(self) -> list[dict[str, Any]]:
        """The messages not returned before, oldest first; none while a reconnect's catch-up is
        under way (so a gap is filled before what came live after it is shown). A program that
        shows or forwards messages calls it after each frame: each message comes out once."""
        if self.catching_up:
            return []
        fresh = sorted(set(self.messages) - self._handed)
        self._handed.update(fresh)
        return [self.messages[i] for i in fresh]

    def has_new(self) -> bool:
        """Whether `take_new` has something to return: a predicate for `wait_for`."""
        return not self.catching_up and not self._handed.issuperset(self.messages)

    def skip(self, keep: int = 0) -> None:
        """Count every message held now as already returned by `take_new`, but the newest
        `keep`: a program that only wants what is new, or the last few, from here on."""
        held = sorted(self.messages)
        self._handed.update(held[: max(0, len(held) - keep)])

    async def start(self) -> None:
        """Connect, and return once the first `ready` has arrived (bound it with a timeout);
        raises `ChatClosed` if the server refuses this client for good instead."""
        self._task = asyncio.create_task(self._run())
        await self.wait_for(lambda c: c.ready.is_set() or c.closed is not None)
        if self.closed is not None and not self.ready.is_set():
            raise self.closed

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

    async def mark_read(self, message_id: int) -> None:
        """Move my read mark in this room forward to `message_id` (my unread counts follow),
        for a client that shows messages to a person; sent only when it moves."""
        if message_id > self._read_mark and self.ready.is_set():
            self._read_mark = message_id
            await self._send_frame({"type": "read", "id": message_id, "ref": f"read:{message_id}"})

    async def wait_for(self, predicate) -> None:
        """Until `predicate(self)` holds, re-checked whenever something arrives."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    # The connection loop.

    async def _run(self) -> None:
        failures = 0
        while True:
            url = self.url = next(self._urls)
            self._state("connecting", url)
            try:
                async with websockets.connect(
                    url,
                    additional_headers=self.headers,
                    origin=self.origin if self.token else self.origin or site_origin(url),
                    open_timeout=10,
                ) as socket:
                    self._socket = socket
                    failures = 0
                    await self._session(socket)
            except websockets.ConnectionClosed as closed:
                self.last_failure = closed
                code = closed.rcvd.code if closed.rcvd else 1006
                if code in FINAL_CLOSE_CODES:
                    return await self._final(code)
                failures = max(failures, 4) if code == FLOODING else failures
            except websockets.InvalidStatus as refused:
                self.last_failure = refused
                code = FINAL_STATUSES.get(refused.response.status_code)
                if code is not None:
                    return await self._final(code)
            except Exception as exc:
                # Whatever broke this connection (a refused handshake, a reset, a frame we do
                # not understand), the client's promise is to come back: it never stops here.
                self.last_failure = exc
            self._socket = None
            self.ready.clear()
            self._state("disconnected", _reason(self.last_failure))
            failures += 1
            # Full jitter: a crowd of clients dropped together does not return together.
            delay = min(self.max_backoff, self.backoff * 2 ** min(failures, 32))
            await asyncio.sleep(random.uniform(0, delay))

    async def _final(self, code: int) -> None:
        self._socket = None
        self.ready.clear()
        self.closed = ChatClosed(code)
        self._state("closed", str(code))
        await self._notify()

    def _state(self, state: str, detail: str) -> None:
        if self.on_state is not None:
            try:
                self.on_state(state, detail)
            except Exception:
                log.exception("The on_state hook failed on %r", state)

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
        self.me, self.room = first.get("me", {}), first.get("room", {})
        # Held back from `take_new` until the pages after the last id held have come.
        self.catching_up = caught_up_from is not None
        self._take(first["messages"])
        if caught_up_from is not None:
            await self._history(caught_up_from)
        # And what was queued while this connection opened.
        for client_id, body in {**unconfirmed, **self.pending}.items():
            await self._send_frame({"type": "message.send", "body": body, "client_id": client_id})
        self.ready.set()
        self._state("connected", self.url)
        self._hook(first)
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
                await self._history(self.last_id)
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
                await self._history(frame["messages"][-1]["id"])
            else:
                self.catching_up = False
        elif kind == "message.edited":
            if frame["message"]["id"] in self.messages:
                self.messages[frame["message"]["id"]] = frame["message"]
        elif kind == "message.deleted":
            self.messages.pop(frame["id"], None)
        elif kind == "presence":
            self.online = frame["online"]
        elif kind == "error":
            self._refused(frame)
        self._hook(frame)
        await self._notify()

    def _hook(self, frame: dict[str, Any]) -> None:
        # A failing hook is the program's bug, not the connection's: it must not make this
        # client drop a healthy socket and reconnect.
        if self.on_frame is not None:
            try:
                self.on_frame(frame)
            except Exception:
                log.exception("The on_frame hook failed on a %r frame", frame.get("type"))

    async def _history(self, after: int) -> None:
        """Ask for the page after `after`; its `ref` names the id, so that a refused page
        (`rate_limited`) is asked for again rather than leaving a gap."""
        await self._send_frame(
            {"type": "history", "after": after, "limit": self.page, "ref": f"history:{after}"}
        )

    def _refused(self, error: dict[str, Any]) -> None:
        self.errors.append(error)
        ref = error.get("ref")
        if isinstance(ref, str) and ref.startswith("history:"):
            if error["code"] in RETRIED_ERRORS:
                after = int(ref.split(":", 1)[1])
                delay = error.get("retry_after") or UNAVAILABLE_RETRY
                asyncio.get_running_loop().call_later(
                    delay, lambda: asyncio.create_task(self._history(after))
                )
            else:
                self.catching_up = False
            return
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


def _reason(failure: BaseException | None) -> str:
    """Why a connection ended, in a few words, for a person reading a status line."""
    if isinstance(failure, websockets.ConnectionClosed):
        code = failure.rcvd.code if failure.rcvd else 1006
        return f"closed with {code}"
    if isinstance(failure, websockets.InvalidStatus):
        return f"HTTP {failure.response.status_code}"
    if failure is None:
        return "closed"
    return str(failure) or type(failure).__name__
