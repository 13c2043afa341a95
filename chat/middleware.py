"""The WebSocket middleware stack: Channels' authentication, with a session that costs nothing
per frame."""

from importlib import import_module

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings


class SocketSessionMiddleware(BaseMiddleware):
    """Puts the handshake's session in `scope["session"]`, as Channels' `SessionMiddleware`
    does, but without wrapping `send`: that wrapper only ever saves a session on an HTTP
    response, and on a socket it costs two lazy-object lookups for every frame sent, which is
    most of a broadcast's per-socket cost once the rest is lean."""

    async def __call__(self, scope, receive, send):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        session = store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner(dict(scope, session=session), receive, send)


def SocketAuthMiddlewareStack(inner):
    """Cookies, the session, then `scope["user"]`: Channels' `AuthMiddlewareStack`, leaner."""
    return CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(inner)))
