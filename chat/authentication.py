"""Who a request or a socket is: the session's user, an API token's (`Authorization: Bearer`), or,
for a socket opened by a page of another site, a one-time ticket's.

A token never travels in a URL (proxies and browsers log URLs): a request or handshake that
carries one there is refused, whatever else it carries. Bearer requests need no CSRF token (a
foreign page cannot set the header); cookie requests keep Django's CSRF check.
"""

from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import parse_qsl

from django.contrib.auth import get_user
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from . import tokens
from .errors import ChatError, Unauthenticated

# Query parameters that would carry a credential in a URL (a ticket is not one: it is single use
# and short-lived, and is the browser's way).
CREDENTIAL_PARAMETERS = {"token", "access_token", "api_key", "apikey", "key", "auth"}
TOKEN_PATHS = ("/api/", "/files/")


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


def token_in_url(query_string: str) -> bool:
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name.lower() in CREDENTIAL_PARAMETERS or value.startswith(tokens.PREFIX):
            return True
    return False


def session_user(session) -> AbstractBaseUser | AnonymousUser:
    """The user a socket's session belongs to, as Django's `get_user` finds it for a request
    (the session's hash checked, a rotated key's fallbacks included).

    Channels' `AuthMiddleware` reads it before the socket is accepted, in a database hop of its
    own. In a reconnect storm that hop waits behind a thousand others; past Daphne's connect
    timeout (5 s) the handshake is refused, the client retries, and its first attempt's work
    still runs: the retries pile up faster than they are served. The consumers accept first
    and read the user in the same hop as the rest of their opening."""
    return get_user(SimpleNamespace(session=session))


def _refusal(exc: ChatError) -> JsonResponse:
    return JsonResponse({"error": exc.code, "message": exc.message}, status=exc.http_status)


class ApiTokenMiddleware:
    """For `/api/` requests and downloads (`/files/`): a Bearer token is who the request is
    (with the token's scopes in `request.api_token`, exempt from CSRF); a bad one is answered
    401 at once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_token = None
        if request.path.startswith(TOKEN_PATHS):
            if token_in_url(request.META.get("QUERY_STRING", "")):
                return _refusal(
                    Unauthenticated(
                        gettext("Tokens go in the Authorization header, never in a URL.")
                    )
                )
            raw = bearer(request.headers.get("Authorization"))
            if raw is not None:
                try:
                    request.user, request.api_token = tokens.authenticate(raw)
                except ChatError as exc:
                    return _refusal(exc)
                request._dont_enforce_csrf_checks = True
        return self.get_response(request)
