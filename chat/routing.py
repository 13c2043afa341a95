from django.urls import re_path

from .consumers import ChatConsumer, LobbyConsumer, no_such_socket

# Any slug reaches the consumer, so that an unknown room closes with 4404 rather than a 1011;
# any other path closes with 4404 too, rather than a server error.
websocket_urlpatterns = [
    re_path(r"^ws/lobby/$", LobbyConsumer.as_asgi()),
    re_path(r"^ws/rooms/(?P<slug>[^/]+)/$", ChatConsumer.as_asgi()),
    re_path(r"", no_such_socket),
]
