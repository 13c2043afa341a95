"""The Channels tutorial's chat consumer, as a peer for the product.

It is the consumer of the Channels tutorial (part 3, "Rewrite Chat Server as Asynchronous")
with the room taken from the URL: join the room's group on connect, `group_send` each received
message to the group, and send each group message to the socket. No authentication, no
database, no presence, no origin check. The difference between it and the product, on the same
Daphne and the same Redis channel layer, is what the product's features cost.

It keeps what a consumer written from the tutorial gets from Channels: since Channels 4.2,
`AsyncConsumer.dispatch` awaits `aclose_old_connections()` before every handler, a hop through
the database thread for each message delivered, even with no database. A consumer that
overrides `dispatch` to skip it (see the product's chat/consumers.py) saves that hop.

This module is also the peer's URLconf: `/healthz` answers 200 so the benchmark knows a worker
is up, as it knows the product's.
"""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import HttpRequest, HttpResponse
from django.urls import path


class ChatConsumer(AsyncWebsocketConsumer):
    """`/ws/bench/<room>/`: every text frame `{"body": ...}` goes to every socket of the room,
    the sender's included, as the same text."""

    async def connect(self) -> None:
        self.group = f"bench.{self.scope['url_route']['kwargs']['room']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        body = json.loads(text_data or "{}")["body"]
        await self.channel_layer.group_send(self.group, {"type": "chat.message", "body": body})

    async def chat_message(self, event: dict) -> None:
        await self.send(text_data=json.dumps({"body": event["body"]}))


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("healthz", healthz)]
