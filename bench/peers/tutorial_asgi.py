"""ASGI entry point of the tutorial peer, as the tutorial writes it (minus AuthMiddlewareStack
and the origin validator, which it has no use for without logins)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.tutorial_settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from bench.peers.tutorial import ChatConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([re_path(r"^ws/bench/(?P<room>[\w.-]+)/$", ChatConsumer.as_asgi())]),
    }
)
