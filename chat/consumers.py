"""The chat WebSockets. Every socket hears its user's group; a room socket also its room's.

Neither through a layer channel of its own: `channel_layer_alias` is None, and the process's
fan-out (chat.fanout) reads both kinds of group once per worker and hands each event to its
local sockets.

Thin on purpose: parse a frame, look its type up in the class's explicit table, take a token
from the user's bucket for what it costs, call a service, answer. A handler returns its answer:
a result frame (`history`, `pong`, `report.ack`) or `ok`; the answer carries the frame's `ref`,
and `ok` is only sent to a frame that had one. Every refusal is a `ChatError`, which becomes an
`error` frame (with the `ref`) while the socket stays open; nothing a client sends can make a
consumer raise (which would close it with 1011 and skip `disconnect`).
"""

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import (
    attachments,
    authentication,
    backpressure,
    broadcast,
    fanout,
    messages,
    middleware,
    moderation,
    policy,
    presence,
    protocol,
    ratelimits,
    reactions,
    rooms,
    tokens,
    uploads,
    wire,
)
from .errors import (
    ChatError,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UnknownType,
)
from .models import Membership, Room

log = logging.getLogger(__name__)

USERNAME_MAX_LENGTH = 150
FLOODING_CLOSE_CODE = 4429

Frame = dict[str, Any]
Handler = Callable[[Any, Frame], Awaitable[Frame]]


class UserSocket(AsyncJsonWebsocketConsumer):
    """What every chat socket does: authenticate, join the user's group, answer frames through
    `handlers`, relay layer events, keep its entries fresh, and leave cleanly."""

    handlers: dict[str, Handler] = {}
    channel_layer_alias = None  # no layer channel per socket: see the module's docstring
    opened = False
    # `rate_limited` answers since the last frame that took effect; a well-behaved client waits
    # `retry_after` after one.
    strikes = 0
    room: Room | None = None
    counted = False  # among the user's open sockets (chat.presence)
    presence_entry = ""  # on its room's online list (chat.presence), for a room socket
    beat: presence.Beat | None = None  # refreshed by the process's heartbeat while open
    left = False  # `leave` has run: the socket hears nothing more
    watch: fanout.Watch | None = None  # new messages in the user's other rooms
    session: str | None = None  # a digest of the session's key, for a cookie's socket
    token_id: int | None = None  # the API token's, for a token's or a ticket's socket
    dropped = False  # for leaving too much unread (chat.backpressure)

    @classmethod
    def as_asgi(cls, **initkwargs: Any) -> Callable[..., Awaitable[None]]:
        """Channels' `as_asgi`, but the application hands back the consumer's coroutine
        instead of awaiting it in one of its own: a frame less held by every socket."""

        def app(scope, receive, send) -> Awaitable[None]:
            return cls(**initkwargs)(scope, receive, send)

        app._asgi_single_callable = True
        app.consumer_class = cls
        app.consumer_initkwargs = initkwargs
        return functools.update_wrapper(app, cls, updated=())

    async def __call__(self, scope, receive, send) -> None:
        """Channels' `AsyncConsumer.__call__` without its dispatch loop: with no layer channel
        the client is the only source of messages, so the consumer awaits `receive` itself,
        where Channels' `await_many_dispatch` runs every read as a task of its own and waits
        for it with `asyncio.wait` (a task, a future and their callbacks held by every idle
        socket, and made anew for every frame).

        Leaves also when the consumer dies without a `disconnect` (Daphne cancels it, even in
        the middle of opening): else the fan-out would keep handing it its user's events and
        the heartbeat would keep a gone socket present."""
        self.scope = scope
        self.channel_layer = None
        self.socket_id = uuid.uuid4().hex
        # The user's events that come while the socket opens wait here: `ready` goes first.
        self.held: list[dict[str, Any]] | None = []
        self.server_send = send
        self.transport = backpressure.transport_of(send)
        self.direct = wire.protocol_of(send)  # None: every frame goes Daphne's way
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            await self.leave()

    async def base_send(self, message: dict[str, Any]) -> None:
        """Daphne's `send`, dropping the connection instead once its peer leaves more than
        `CHAT_SOCKET_BUFFER_MAX` bytes unread (chat.backpressure), and writing a text frame
        to the socket itself where autobahn would write the same bytes (chat.wire)."""
        transport, limit = self.transport, settings.CHAT_SOCKET_BUFFER_MAX
        if transport is not None and message["type"] == "websocket.send":
            unsent = backpressure.backlog(transport)
            if unsent > limit:
                if not self.dropped:
                    self.dropped = True
                    log.info("Dropping a socket that left over %d bytes unread", limit)
                    backpressure.drop(transport)
                return
            if self.direct is not None and wire.write(self.direct, message, unsent):
                return
        try:
            await self.server_send(message)
        except backpressure.Closed:
            pass  # closing meanwhile: its disconnect cleans up

    async def connect(self) -> None:
        """Accept at once, then find out who this is: the handshake is over before any
        database work (see `middleware.session_user`), and a refusal is a close code the
        client can read."""
        await self.accept()
        try:
            ticket = middleware.ticket_of(self.scope)
            self.ticket = await tokens.redeem_ticket(ticket) if ticket is not None else None
            await database_sync_to_async(self.identify)()
            await self._admit()
            await self.open()
        except ChatError as exc:
            await self.leave()
            await self.close(
                code=FLOODING_CLOSE_CODE if isinstance(exc, RateLimited) else exc.close_code
            )
        except Exception:
            log.exception("Opening a chat socket failed")
            await self.leave()
            await self.close(code=Unavailable.close_code)
        else:
            self.opened = True
            room_id = self.room.pk if self.presence_entry else None
            self.beat = presence.Beat(self.user.pk, self.socket_id, room_id, self.presence_entry)
            presence.keep(self.beat)
            while self.held:
                await self._handle_safely(self.held.pop(0))
            self.held = None

    def identify(self) -> None:
        """Who this is (an API token's user, a ticket's, or the session's) and the rooms whose
        activity they hear, in one database hop (a room socket also opens its room in it)."""
        if authentication.token_in_url(self.scope.get("query_string", b"").decode("latin1")):
            raise Unauthenticated("Tokens go in the Authorization header, never in a URL.")
        raw = authentication.bearer(middleware.header(self.scope, b"authorization"))
        token = None
        if raw is not None:
            user, token = tokens.authenticate(raw)
        elif self.ticket is not None:
            user, token = tokens.ticket_holder(*self.ticket)
        else:
            session = middleware.session_of(self.scope)
            user = authentication.session_user(session)
            if not user.is_authenticated:
                raise Unauthenticated()
            self.session = broadcast.session_digest(session.session_key)
        self.user = user
        self.token_id = token.pk if token else None
        self.scopes = tokens.scopes_of(token)
        self.watched = rooms.watched_room_ids(user)

    async def _admit(self) -> None:
        """Opening a socket costs work (a snapshot, groups, presence): a user opens a limited
        number per period, and holds at most `CHAT_SOCKETS_PER_USER` at once, on all workers
        together."""
        await ratelimits.check("connect", self.user.pk)
        self.counted = True
        sockets = await presence.open_socket(self.user.pk, self.socket_id)
        if sockets > settings.CHAT_SOCKETS_PER_USER:
            raise RateLimited("Too many open sockets.")

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler: that
        is a hop through the one database thread per event, and every database call here goes
        through `database_sync_to_async`, which closes stale connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def open(self) -> None:
        self.listening = broadcast.user_group(self.user.pk)
        await fanout.current().listen(self.listening, self.hear)
        own = broadcast.room_group(self.room.pk) if self.room else None
        self.watch = fanout.Watch(self.user.pk, own, self._send_text)
        await fanout.current().watch(self.watch, [broadcast.room_group(i) for i in self.watched])

    async def _send_text(self, text: str) -> None:
        """An `activity` frame from the fan-out: held until `ready` like the user's events."""
        await self.hear({"type": "chat.frame", "text": text})

    async def disconnect(self, code: int) -> None:
        self.opened = False
        await self.leave()

    async def leave(self) -> None:
        """Once, however the socket ends: a refusal, a close, a cancelled consumer."""
        if not self.left:
            self.left = True
            await self._leave()

    async def _leave(self) -> None:
        if self.beat is not None:
            presence.forget(self.beat)
        try:
            if self.watch is not None:
                await fanout.current().unwatch(self.watch)
            if hasattr(self, "listening"):
                await fanout.current().unlisten(self.listening, self.hear)
            if self.counted:
                await presence.close_socket(self.user.pk, self.socket_id)
        except Exception:
            log.warning("Leaving a chat socket's groups failed", exc_info=True)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.opened:
            return
        frame: Frame = {}
        try:
            if bytes_data is not None:
                await self.on_chunk(bytes_data)
                return
            frame = protocol.parse(text_data)
            ref = protocol.ref_of(frame)
            handler = self.handlers.get(frame["type"])
            if handler is None:
                raise UnknownType(f"Unknown frame type {frame['type'][:50]!r}.")
            policy.check_scope(self.scopes, frame["type"])
            answer = await handler(self, frame)
            if frame["type"] != "ping":
                self.strikes = 0
            if ref is not None:
                await self.send_json({**answer, "ref": ref})
            elif answer["type"] != "ok":
                await self.send_json(answer)
        except ChatError as exc:
            await self._refuse(exc, frame)
        except Exception:
            log.exception("A chat frame failed")
            await self._refuse(Unavailable(), frame)

    async def on_chunk(self, chunk: bytes) -> None:
        """A binary frame: only a chunk of an upload of a room socket (chat.uploads)."""
        raise Invalid("Binary frames are for uploads only.")

    async def _refuse(self, exc: ChatError, frame: dict[str, Any]) -> None:
        await self.send_json(protocol.error_frame(exc, frame))
        if isinstance(exc, RateLimited):
            self.strikes += 1
            if self.strikes >= settings.CHAT_FLOOD_STRIKES:
                await self.close(code=FLOODING_CLOSE_CODE)

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return protocol.encode(content)

    # Client frames every socket answers.

    async def on_ping(self, frame: Frame) -> Frame:
        return {"type": "pong"}

    async def on_dm_send(self, frame: Frame) -> Frame:
        to = protocol.text_field(frame, "to", max_length=USERNAME_MAX_LENGTH)
        body = protocol.text_field(frame, "body")
        client_id = protocol.optional_text_field(
            frame, "client_id", max_length=protocol.MAX_CLIENT_ID
        )
        await ratelimits.check("message", self.user.pk)
        message, created = await database_sync_to_async(messages.send_direct)(
            author=self.user, to=to, body=body, client_id=client_id
        )
        # A repeated client_id: the direct room hears the original again; a socket elsewhere
        # gets it as it would have heard it the first time.
        if not created and (self.room is None or self.room.pk != message.room_id):
            await self.send_json(protocol.notify_frame(message))
        return protocol.ok_frame(message.pk)

    # Events to the user's group, from the process's fan-out (see chat.broadcast).

    async def hear(self, event: dict[str, Any]) -> None:
        if self.left:
            return
        if self.held is not None:
            self.held.append(event)
            return
        await self._handle(event)

    async def _handle_safely(self, event: dict[str, Any]) -> None:
        try:
            await self._handle(event)
        except Exception:
            log.warning("Handling a user's event failed", exc_info=True)

    async def _handle(self, event: dict[str, Any]) -> None:
        handler = self.user_events.get(event["type"])
        if handler is None:
            raise ValueError(f"No handler for a user's event of type {event['type']}")
        await handler(self, event)

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A user-group frame; room frames come through `ChatConsumer.relay`."""
        if event.get("skip_room") is not None and self.room and event["skip_room"] == self.room.pk:
            return
        await self.send(text_data=event["text"])

    async def chat_close(self, event: dict[str, Any]) -> None:
        if event["session"] is not None and event["session"] != self.session:
            return
        if event.get("token") is not None and event["token"] != self.token_id:
            return
        if event.get("room") is not None and (self.room is None or self.room.pk != event["room"]):
            return
        await self.close(code=event["code"])

    async def chat_conversation(self, event: dict[str, Any]) -> None:
        """The user joined or left a room: watch its activity, or stop, and tell the client."""
        group = broadcast.room_group(event["room"])
        if self.watch is not None:
            if event["joined"]:
                await fanout.current().watch_group(self.watch, group)
            else:
                await fanout.current().unwatch_group(self.watch, group)
        await self.send(text_data=event["text"])

    user_events = {
        "chat.frame": chat_frame,
        "chat.close": chat_close,
        "chat.conversation": chat_conversation,
    }


class LobbyConsumer(UserSocket):
    """`/ws/lobby/`: a socket on no room, for the sidebar's live unread counts and
    notifications while no conversation is open."""

    async def open(self) -> None:
        await super().open()
        await self.send_json({"type": "ready", "me": {"username": self.user.username}})

    handlers = {"ping": UserSocket.on_ping, "dm.send": UserSocket.on_dm_send}


def _snapshot(room: Room, user) -> dict[str, Any]:
    """What `ready` reads from the database: its size does not grow with the number of rooms
    the user is in (their unread counts come from `GET /api/rooms/`)."""
    recent, _ = messages.history(room=room, limit=settings.CHAT_HISTORY_PAGE)
    snapshot = {
        **rooms.members(room.pk),
        "messages": protocol.fit_messages(recent, keep="newest")[0],
    }
    if room.kind == Room.Kind.DIRECT:
        snapshot["read_marks"] = dict(
            Membership.objects.filter(room=room)
            .exclude(user=user)
            .values_list("user__username", "last_read")
        )
    return snapshot


class ChatConsumer(UserSocket):
    """`/ws/rooms/<slug>/`: one room's socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uploads = uploads.SocketUploads()

    def identify(self) -> None:
        super().identify()
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.room, self.member = rooms.open_room(user=self.user, slug=slug)

    async def open(self) -> None:
        room = self.room
        await super().open()
        self.subscription = await fanout.current().subscribe(
            broadcast.room_group(room.pk), self.relay
        )
        self.presence_entry = presence.entry(self.user.username, self.socket_id)
        online, changed = await presence.join(room.pk, self.presence_entry)
        snapshot = await database_sync_to_async(_snapshot)(room, self.user)
        rank = policy.rank_of(
            is_superuser=self.user.is_superuser, is_staff=self.user.is_staff, role=self.member.role
        )
        me = {
            "username": self.user.username,
            "role": self.member.role,
            "moderator": rank >= policy.Rank.MODERATOR,
        }
        await self.send_json(
            {
                "type": "ready",
                "room": protocol.room_data(room),
                "me": me,
                "online": online,
                "last_read": self.member.last_read,
                **snapshot,
            }
        )
        await self.subscription.release()
        if changed:
            presence.announce(room.pk)

    async def _leave(self) -> None:
        await super()._leave()
        self.uploads.close()  # an upload cut short leaves no file behind
        if hasattr(self, "subscription"):
            try:
                await fanout.current().unsubscribe(self.subscription)
            except Exception:
                log.warning("Leaving a room's fan-out failed", exc_info=True)
        if self.presence_entry:
            try:
                online = await presence.leave(self.room.pk, self.presence_entry)
                if self.user.username not in online:
                    presence.announce(self.room.pk)
            except Exception:
                log.warning("Leaving a room's presence failed", exc_info=True)

    async def on_send(self, frame: Frame) -> Frame:
        body = protocol.text_field(frame, "body")
        client_id = protocol.optional_text_field(
            frame, "client_id", max_length=protocol.MAX_CLIENT_ID
        )
        reply_to = protocol.optional_id_field(frame, "reply_to")
        files = protocol.id_list_field(frame, "attachments", max_items=attachments.PER_MESSAGE)
        await ratelimits.check("message", self.user.pk)
        # A repeated client_id comes back through the room, like a new one.
        message, _ = await database_sync_to_async(messages.post)(
            author=self.user,
            room=self.room,
            body=body,
            client_id=client_id,
            reply_to=reply_to,
            attachments=files,
        )
        return protocol.ok_frame(message.pk)

    # Uploads over the socket (chat.uploads): start, chunks as binary frames, finish.

    async def on_upload_start(self, frame: Frame) -> Frame:
        name = protocol.text_field(frame, "name", max_length=1000)
        size = frame.get("size")
        await ratelimits.check("upload", self.user.pk)
        await database_sync_to_async(attachments.check_may_upload)(self.user, self.room)
        upload = self.uploads.start(name=name, size=size)
        return {"type": "upload.started", "upload": upload, "chunk": uploads.CHUNK}

    async def on_chunk(self, chunk: bytes) -> None:
        try:
            upload, received = self.uploads.write(chunk)
        except uploads.UploadError as exc:
            await self.send_json({**protocol.error_frame(exc, {}), "upload": exc.upload})
            return
        await self.send_json({"type": "upload.progress", "upload": upload, "received": received})

    async def on_upload_finish(self, frame: Frame) -> Frame:
        upload = self.uploads.take(protocol.text_field(frame, "upload", max_length=64))
        try:
            prepared = await asyncio.to_thread(
                attachments.prepare, name=upload.name, stream=upload.file, declared_size=upload.size
            )
        finally:
            upload.file.close()
        made = await database_sync_to_async(attachments.record)(
            user=self.user, room=self.room, prepared=prepared
        )
        return {"type": "upload.done", "attachment": protocol.attachment_data(made)}

    async def on_upload_cancel(self, frame: Frame) -> Frame:
        self.uploads.cancel(protocol.text_field(frame, "upload", max_length=64))
        return protocol.ok_frame()

    async def on_edit(self, frame: Frame) -> Frame:
        message_id = protocol.id_field(frame, "id")
        body = protocol.text_field(frame, "body")
        await ratelimits.check("edit", self.user.pk)
        await database_sync_to_async(messages.edit)(
            actor=self.user, room=self.room, message_id=message_id, body=body
        )
        return protocol.ok_frame(message_id)

    async def on_delete(self, frame: Frame) -> Frame:
        message_id = protocol.id_field(frame, "id")
        await ratelimits.check("edit", self.user.pk)
        await database_sync_to_async(messages.delete)(
            actor=self.user, room=self.room, message_id=message_id
        )
        return protocol.ok_frame(message_id)

    async def _react(self, frame: Frame, *, add: bool) -> Frame:
        message_id = protocol.id_field(frame, "id")
        emoji = protocol.text_field(frame, "emoji", max_length=reactions.EMOJI_MAX_LENGTH)
        await ratelimits.check("reaction", self.user.pk)
        await database_sync_to_async(reactions.react)(
            user=self.user, room=self.room, message_id=message_id, emoji=emoji, add=add
        )
        return protocol.ok_frame(message_id)

    async def on_reaction_add(self, frame: Frame) -> Frame:
        return await self._react(frame, add=True)

    async def on_reaction_remove(self, frame: Frame) -> Frame:
        return await self._react(frame, add=False)

    async def on_typing(self, frame: Frame) -> Frame:
        if await presence.may_announce_typing(self.room.pk, self.user.pk):
            if self.room.kind == Room.Kind.DIRECT:
                await database_sync_to_async(policy.check_not_blocked)(self.user, self.room)
            await broadcast.to_room(
                self.room.pk,
                {"type": "typing", "user": self.user.username},
                skip_user=self.user.pk,
            )
        return protocol.ok_frame()

    async def on_history(self, frame: Frame) -> Frame:
        before = protocol.optional_id_field(frame, "before")
        after = protocol.optional_id_field(frame, "after", zero=True)
        around = protocol.optional_id_field(frame, "around")
        limit = protocol.limit_field(frame, settings.CHAT_HISTORY_PAGE)
        if sum(value is not None for value in (before, after, around)) > 1:
            raise Invalid("Give one of 'before', 'after' and 'around'.")
        await ratelimits.check("history", self.user.pk)
        if around is not None:
            page, older, newer = await database_sync_to_async(messages.around)(
                room=self.room, message_id=around, limit=limit
            )
            data, cut_older, cut_newer = protocol.fit_messages(page, keep="middle")
            return {
                "type": "history",
                "messages": data,
                "has_more": older or bool(cut_older),
                "has_more_after": newer or bool(cut_newer),
            }
        page, has_more = await database_sync_to_async(messages.history)(
            room=self.room, before=before, after=after, limit=limit
        )
        data, *cut = protocol.fit_messages(page, keep="newest" if after is None else "oldest")
        return {"type": "history", "messages": data, "has_more": has_more or any(cut)}

    async def on_report(self, frame: Frame) -> Frame:
        message_id = protocol.id_field(frame, "id")
        reason = protocol.optional_text_field(frame, "reason", max_length=policy.REASON_MAX_LENGTH)
        await ratelimits.check("report", self.user.pk)
        report = await database_sync_to_async(moderation.report)(
            reporter=self.user, room=self.room, message_id=message_id, reason=reason or ""
        )
        return {"type": "report.ack", "id": report.pk}

    async def on_read(self, frame: Frame) -> Frame:
        message_id = protocol.id_field(frame, "id")
        await ratelimits.check("read", self.user.pk)
        await database_sync_to_async(messages.mark_read)(
            user=self.user, room=self.room, message_id=message_id
        )
        return protocol.ok_frame()

    async def relay(self, event: dict[str, Any], message: dict[str, Any]) -> None:
        """A room event from this process's fan-out, past the consumer's own event queue and
        straight to the server's `send` with the `websocket.send` shared by all sockets."""
        if event.get("skip") is not None and event["skip"] == self.user.pk:
            return
        await self.base_send(message)

    # The only way from a client's `type` to code: an explicit table, never getattr().
    handlers = {
        "message.send": on_send,
        "message.edit": on_edit,
        "message.delete": on_delete,
        "message.report": on_report,
        "upload.start": on_upload_start,
        "upload.finish": on_upload_finish,
        "upload.cancel": on_upload_cancel,
        "reaction.add": on_reaction_add,
        "reaction.remove": on_reaction_remove,
        "dm.send": UserSocket.on_dm_send,
        "typing": on_typing,
        "history": on_history,
        "read": on_read,
        "ping": UserSocket.on_ping,
    }


async def no_such_socket(scope, receive, send) -> None:
    """Any other WebSocket path: accepted and closed with 4404, never a server error."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": NotFound.close_code})
