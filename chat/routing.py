from django.urls import re_path

from .consumers import ChatConsumer, LobbyConsumer

# Any slug reaches the consumer, so that an unknown room closes with 4404 rather than a 1011.
websocket_urlpatterns = [
    re_path(r"^ws/lobby/$", LobbyConsumer.as_asgi()),
    re_path(r"^ws/rooms/(?P<slug>[^/]+)/$", ChatConsumer.as_asgi()),
]
