"""The WebSocket middleware: the site's own origins only. Who the socket is (session, token or
ticket) is resolved by the consumer, after it accepted the socket (chat.authentication), and
the session is read from its cookie there (`session_of`), not by Channels' cookie and session
middleware: each of those keeps a copy of the scope for the socket's life, and the session
store with its decoded data, which the socket needs only while it opens (docs/performance.md,
issue 17)."""

from collections.abc import Awaitable
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http.cookie import parse_cookie
from django.http.request import validate_host
from django.utils.http import is_same_domain

from .authentication import bearer


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin1")
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def _scheme_host_port(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def _site_origin(scope, origin: str, host: str) -> bool:
    """Whether the handshake's `Origin` is one of the site's own: the scheme and port the
    request reached the site by (`https` when over TLS or through a proxy that says so in
    `SECURE_PROXY_SSL_HEADER`) with a host of `ALLOWED_HOSTS`; or one of
    `CSRF_TRUSTED_ORIGINS`, as Django's CSRF check has them.

    Channels' `AllowedHostsOriginValidator` compares the host alone, so a page served on
    another port or scheme of the same host (another site, to a browser) could open a socket
    carrying this site's cookie.
    """
    proxy_header, secure_value = settings.SECURE_PROXY_SSL_HEADER or (None, None)
    forwarded = proxy_header and header(
        scope, proxy_header.removeprefix("HTTP_").replace("_", "-").lower().encode()
    )
    scheme = "https" if scope.get("scheme") == "wss" or forwarded == secure_value else "http"
    reached = _scheme_host_port(f"{scheme}://{host}")
    came_from = _scheme_host_port(origin)
    if reached and came_from and validate_host(reached[1], settings.ALLOWED_HOSTS):
        if came_from[0] == scheme and came_from[2] == reached[2]:
            if validate_host(came_from[1], settings.ALLOWED_HOSTS):
                return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    return came_from is not None and any(
        came_from[0] == trusted.scheme
        and is_same_domain(urlsplit(origin).netloc, trusted.netloc[trusted.netloc.index("*") + 1 :])
        for trusted in map(urlsplit, settings.CSRF_TRUSTED_ORIGINS)
        if "*" in trusted.netloc
    )


def ticket_of(scope) -> str | None:
    tickets = parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket")
    return tickets[0] if tickets else None


def origin_allowed(scope) -> bool:
    """A cookie travels with any page's socket, so a socket that may be using one must come
    from one of the site's own origins. A socket that presents an API token may come without an
    Origin (a bot), and one with a ticket from any page: both are credentials a foreign page
    cannot have taken from the browser."""
    origin, host = header(scope, b"origin"), header(scope, b"host")
    if ticket_of(scope) is not None:
        return True
    if not origin:
        return bearer(header(scope, b"authorization")) is not None
    return bool(host) and _site_origin(scope, origin, host)


class SiteOriginValidator(BaseMiddleware):
    """Refuses, with HTTP 403 at the handshake, a socket opened from another site's page: it
    would carry this site's cookie (cross-site WebSocket hijacking)."""

    _asgi_single_callable = True  # an ASGI 3 application, though not a coroutine function

    def __call__(self, scope, receive, send) -> Awaitable[None]:
        """Hands back the application's coroutine rather than awaiting it in one of its own,
        which every socket would hold for its life."""
        if not origin_allowed(scope):
            return WebsocketDenier()(scope, receive, send)
        return self.inner(scope, receive, send)


def session_of(scope) -> SessionBase:
    """The session named by the handshake's cookie, as Channels' `SessionMiddleware` would
    have put it in `scope["session"]` (not yet loaded: that is a database read)."""
    cookies = parse_cookie(header(scope, b"cookie") or "")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store(cookies.get(settings.SESSION_COOKIE_NAME))
