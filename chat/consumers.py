"""The chat WebSocket: one connection on one room, in the room's group and in the user's own.

Thin on purpose: parse a frame, look its type up in an explicit table, call a service, send the
answer. Every refusal is a `ChatError`, which becomes an `error` frame while the socket stays
open; nothing a client sends can make the consumer raise (which would close it with 1011 and
skip `disconnect`).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import broadcast, messages, presence, protocol, ratelimits, rooms
from .errors import ChatError, Unauthenticated, Unavailable, UnknownType
from .models import Membership, Room

log = logging.getLogger(__name__)

CLIENT_ID_MAX_LENGTH = 64


def _snapshot(room: Room) -> tuple[list[str], list[dict[str, Any]]]:
    recent, _ = messages.history(room=room, limit=settings.CHAT_HISTORY_PAGE)
    return rooms.member_usernames(room), [protocol.message_data(m) for m in recent]


class ChatConsumer(AsyncJsonWebsocketConsumer):
    room: Room | None = None
    joined: list[str] = []

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=Unauthenticated.close_code)
            return
        try:
            await self._open(getattr(user, "_wrapped", user))
        except ChatError as exc:
            await self.close(code=exc.close_code)
        except Exception:
            log.exception("Opening a chat socket failed")
            await self._leave()
            self.room = None
            await self.close(code=Unavailable.close_code)

    async def _open(self, user) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        room, member = await database_sync_to_async(rooms.open_room)(user=user, slug=slug)
        self.user, self.room = user, room
        self.session = broadcast.session_digest(self.scope["session"].session_key)
        # Not `self.groups`: the base class would discard those itself, unguarded, on disconnect.
        self.joined = [broadcast.room_group(room.pk), broadcast.user_group(user.pk)]
        await self._join_groups()
        self.presence_entry = presence.entry(user.username, self.channel_name)
        before, _ = await presence.online(room.pk)
        self.online_seen, _ = await presence.refresh(room.pk, self.presence_entry)
        members, recent = await database_sync_to_async(_snapshot)(room)
        await self.send_json(self._ready(member, members, recent))
        if self.online_seen != before:
            await broadcast.presence(room.pk, self.online_seen)
        self.heartbeat = asyncio.create_task(self._beat())

    def _ready(self, member: Membership, members: list[str], recent: list[dict]) -> dict:
        return {
            "type": "ready",
            "room": protocol.room_data(self.room),
            "me": {"username": self.user.username},
            "members": members,
            "online": self.online_seen,
            "messages": recent,
            "last_read": member.last_read,
        }

    async def _join_groups(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _beat(self) -> None:
        """Keep this socket's presence fresh and its groups joined; announce what went stale.

        Re-adding the groups each beat also restores them after Redis lost its data.
        """
        while True:
            await asyncio.sleep(settings.CHAT_HEARTBEAT_INTERVAL)
            try:
                await self._join_groups()
                online, _ = await presence.refresh(self.room.pk, self.presence_entry)
                if online != self.online_seen:
                    self.online_seen = online
                    await broadcast.presence(self.room.pk, online)
            except Exception:
                log.warning("Chat heartbeat failed; retrying next beat", exc_info=True)

    async def disconnect(self, code: int) -> None:
        if self.room is not None:
            await self._leave()

    async def _leave(self) -> None:
        if hasattr(self, "heartbeat"):
            self.heartbeat.cancel()
        try:
            for group in self.joined:
                await self.channel_layer.group_discard(group, self.channel_name)
            if hasattr(self, "presence_entry"):
                online = await presence.leave(self.room.pk, self.presence_entry)
                if self.user.username not in online:
                    await broadcast.presence(self.room.pk, online)
        except Exception:
            log.warning("Leaving a chat socket's groups failed", exc_info=True)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room is None:
            return
        try:
            frame = protocol.parse(text_data)
            handler = HANDLERS.get(frame["type"])
            if handler is None:
                raise UnknownType(f"Unknown frame type {frame['type'][:50]!r}.")
            await handler(self, frame)
        except ChatError as exc:
            await self.send_json(protocol.error_frame(exc.code, exc.message, exc.retry_after))
        except Exception:
            log.exception("A chat frame failed")
            failure = Unavailable()
            await self.send_json(protocol.error_frame(failure.code, failure.message))

    # Client frames, reached only through HANDLERS below.

    async def on_send(self, frame: dict[str, Any]) -> None:
        body = protocol.text_field(frame, "body")
        client_id = protocol.optional_text_field(
            frame, "client_id", max_length=CLIENT_ID_MAX_LENGTH
        )
        await ratelimits.check_message(self.user.pk)
        message, created = await database_sync_to_async(messages.post)(
            author=self.user, room=self.room, body=body, client_id=client_id
        )
        if not created:
            await self.send_json(protocol.message_frame(message))

    async def on_edit(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(messages.edit)(
            actor=self.user,
            room=self.room,
            message_id=protocol.id_field(frame, "id"),
            body=protocol.text_field(frame, "body"),
        )

    async def on_delete(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(messages.delete)(
            actor=self.user, room=self.room, message_id=protocol.id_field(frame, "id")
        )

    async def on_typing(self, frame: dict[str, Any]) -> None:
        if await presence.may_announce_typing(self.room.pk, self.user.pk):
            await broadcast.to_room(
                self.room.pk, {"type": "typing", "user": self.user.username}, skip_user=self.user.pk
            )

    async def on_history(self, frame: dict[str, Any]) -> None:
        page, has_more = await database_sync_to_async(messages.history)(
            room=self.room,
            before=protocol.optional_id_field(frame, "before"),
            after=protocol.optional_id_field(frame, "after"),
            limit=protocol.limit_field(frame, settings.CHAT_HISTORY_PAGE),
        )
        await self.send_json(
            {
                "type": "history",
                "messages": [protocol.message_data(m) for m in page],
                "has_more": has_more,
            }
        )

    async def on_read(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(messages.mark_read)(
            user=self.user, room=self.room, message_id=protocol.id_field(frame, "id")
        )

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    # Channel layer events (see chat.broadcast).

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event.get("skip") is None or event["skip"] != self.user.pk:
            await self.send(text_data=event["text"])

    async def chat_presence(self, event: dict[str, Any]) -> None:
        self.online_seen = event["online"]
        await self.send(text_data=event["text"])

    async def chat_close(self, event: dict[str, Any]) -> None:
        if event["session"] is None or event["session"] == self.session:
            await self.close(code=event["code"])


Handler = Callable[[ChatConsumer, dict[str, Any]], Awaitable[None]]

# The only way from a client's `type` to code: an explicit table, never getattr().
HANDLERS: dict[str, Handler] = {
    "message.send": ChatConsumer.on_send,
    "message.edit": ChatConsumer.on_edit,
    "message.delete": ChatConsumer.on_delete,
    "typing": ChatConsumer.on_typing,
    "history": ChatConsumer.on_history,
    "read": ChatConsumer.on_read,
    "ping": ChatConsumer.on_ping,
}
