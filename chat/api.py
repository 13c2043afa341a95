"""The JSON API under `/api/`, for the browser client, bots and scripts (docs/api.md).

A request is a logged-in session (with Django's CSRF check on writes) or a Bearer token
(chat.authentication); a token's scope is checked by `policy.check_scope` for each endpoint as
for each socket frame. Every endpoint calls the same services as the socket, so every rule of
posting holds here too, and what is posted here reaches open sockets on every worker. Errors
are `{"error": code, "message": text}` with the status of the error (chat.errors).
"""

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext
from django.views.csrf import csrf_failure as csrf_page
from django.views.decorators.cache import never_cache

from . import (
    attachments,
    conversations,
    messages,
    policy,
    protocol,
    ratelimits,
    rooms,
    search,
    tokens,
)
from .errors import ChatError, Forbidden, Invalid, TooLong, Unauthenticated

USER_SEARCH_LIMIT = 10
Endpoint = Callable[..., JsonResponse]


def error_response(exc: ChatError) -> JsonResponse:
    data: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.retry_after is not None:
        data["retry_after"] = round(exc.retry_after, 3)
    response = JsonResponse(data, status=exc.http_status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(max(1, round(exc.retry_after)))
    return response


def endpoint(*actions: tuple[str, str]) -> Callable[[Endpoint], Endpoint]:
    """An API view answering the methods named, each an action whose scope a token must hold
    (`(method, action)`); refusals of every kind as JSON errors."""
    allowed = dict(actions)

    def decorate(view: Endpoint) -> Endpoint:
        @functools.wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            action = allowed.get(request.method)
            if action is None:
                response = error_response(
                    Invalid(gettext("%(method)s is not allowed here.") % {"method": request.method})
                )
                response.status_code = 405
                response["Allow"] = ", ".join(allowed)
                return response
            try:
                if not request.user.is_authenticated:
                    raise Unauthenticated()
                policy.check_scope(tokens.scopes_of(request.api_token), action)
                return view(request, *args, **kwargs)
            except ChatError as exc:
                return error_response(exc)

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, refused (nothing done) when it is not one; at most
    `protocol.MAX_FRAME_CHARS` characters, as a socket frame."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise TooLong(gettext("The request body is too large.")) from None
    if len(raw) > protocol.MAX_FRAME_CHARS * 4:  # 4 bytes a character at most
        raise TooLong(gettext("The request body is too large."))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(gettext("The request body is not UTF-8.")) from None
    return protocol.parse_object(text, "request body")


def _query_fields(request: HttpRequest, *names: str) -> dict[str, int | str]:
    """Query parameters as a frame's fields, for `protocol`'s checks: plain digits become ints."""
    return {
        name: int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else raw
        for name in names
        if (raw := request.GET.get(name)) is not None
    }


@endpoint(("GET", "rooms"))
def room_list(request: HttpRequest) -> JsonResponse:
    """`{"rooms": [...]}`: my rooms with their unread and mention counts, then the public
    rooms I have not joined. Clients ask at start and after every reconnect."""
    return JsonResponse({"rooms": [entry.data() for entry in conversations.listing(request.user)]})


@endpoint(("GET", "history"), ("POST", "message.send"))
def room_messages(request: HttpRequest, slug: str) -> JsonResponse:
    """GET: a page of history, oldest first. POST: `message.send` over HTTP."""
    if request.method == "POST":
        return _post(request, slug)
    query = _query_fields(request, "before", "after", "limit")
    limit = protocol.limit_field(query, settings.CHAT_HISTORY_PAGE)
    before = protocol.optional_id_field(query, "before")
    after = protocol.optional_id_field(query, "after", zero=True)
    ratelimits.check_sync("history", request.user.pk)
    room, _ = rooms.open_room(user=request.user, slug=slug)
    page, has_more = messages.history(room=room, before=before, after=after, limit=limit)
    return JsonResponse(
        {"messages": [protocol.message_data(m) for m in page], "has_more": has_more}
    )


def _post(request: HttpRequest, slug: str) -> JsonResponse:
    """201 with the new message; 200 with the original for a repeated `client_id`."""
    fields = json_body(request)
    body = protocol.text_field(fields, "body")
    client_id = protocol.optional_text_field(fields, "client_id", max_length=protocol.MAX_CLIENT_ID)
    reply_to = protocol.optional_id_field(fields, "reply_to")
    files = protocol.id_list_field(fields, "attachments", max_items=attachments.PER_MESSAGE)
    ratelimits.check_sync("message", request.user.pk)
    room, _ = rooms.open_room(user=request.user, slug=slug)  # a public room is joined
    message, created = messages.post(
        author=request.user,
        room=room,
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        attachments=files,
    )
    return JsonResponse({"message": protocol.message_data(message)}, status=201 if created else 200)


MULTIPART_SLACK = 64 * 1024  # a form's boundaries and headers around the file


@endpoint(("POST", "upload"))
def room_uploads(request: HttpRequest, slug: str) -> JsonResponse:
    """`POST` multipart `file`: an upload into the room, to attach with `message.send`'s
    `attachments` (201 `{"attachment": ...}`). Refused before the body is read when its length
    says it is too large (413)."""
    length = request.META.get("CONTENT_LENGTH", "")
    if length.isdigit() and int(length) > settings.CHAT_UPLOAD_MAX_BYTES + MULTIPART_SLACK:
        attachments.check_size(int(length))
    ratelimits.check_sync("upload", request.user.pk)
    room, _ = rooms.open_room(user=request.user, slug=slug)
    attachments.check_may_upload(request.user, room)
    upload = request.FILES.get("file")
    if upload is None:
        raise Invalid(gettext("Send the file as the multipart field 'file'."))
    prepared = attachments.prepare(name=upload.name or "file", stream=upload)
    made = attachments.record(user=request.user, room=room, prepared=prepared)
    return JsonResponse({"attachment": protocol.attachment_data(made)}, status=201)


@endpoint(("GET", "search"))
def search_messages(request: HttpRequest) -> JsonResponse:
    """`?q=` (1 to 200 characters), `&room=<slug>`, `&before=<id>`, `&limit=` 1 to 100:
    `{"messages": [...], "has_more": bool, "terms": [...]}`, newest first, in the rooms I may
    open now (chat.search). `terms`: what was looked for, normalised (NFKC, case folded), to
    highlight."""
    query = _query_fields(request, "before", "limit")
    before = protocol.optional_id_field(query, "before")
    limit = protocol.limit_field(query, search.PAGE)
    text = request.GET.get("q", "")
    ratelimits.check_sync("search", request.user.pk)
    page, has_more = search.search(
        user=request.user,
        query=text,
        room_slug=request.GET.get("room") or None,
        before=before,
        limit=limit,
    )
    return JsonResponse(
        {
            "messages": [protocol.message_data(m) for m in messages.with_extras(page)],
            "has_more": has_more,
            "terms": [term.text for term in search.terms(text)],
        }
    )


@endpoint(("POST", "direct"))
def direct(request: HttpRequest, username: str) -> JsonResponse:
    """The direct room of me and `username`, made on first use: `{"room": {...}}`."""
    room = rooms.direct_room(user=request.user, other=rooms.find_user(username))
    return JsonResponse({"room": {**protocol.room_data(room), "title": username}})


@endpoint(("POST", "ticket"))
def ticket(request: HttpRequest) -> JsonResponse:
    """A one-time pass for one socket, for a page of another site that holds a token but
    cannot put it in a handshake's headers (`/ws/rooms/<slug>/?ticket=...`)."""
    if request.api_token is None:
        raise Forbidden(
            gettext("Tickets are for tokens; a page of this site opens sockets as it is.")
        )
    issued = async_to_sync(tokens.issue_ticket)(request.user, request.api_token)
    return JsonResponse({"ticket": issued, "expires_in": settings.CHAT_TICKET_SECONDS}, status=201)


@endpoint(("GET", "users"))
def users(request: HttpRequest) -> JsonResponse:
    """`?q=` a username prefix: `{"users": [username...]}`, for starting a conversation."""
    query = request.GET.get("q", "").strip()
    if not query:
        return JsonResponse({"users": []})
    found = (
        get_user_model()
        .objects.filter(username__istartswith=query[:150], is_active=True)
        .exclude(pk=request.user.pk)
        .order_by("username")
        .values_list("username", flat=True)[:USER_SEARCH_LIMIT]
    )
    return JsonResponse({"users": list(found)})


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    """CSRF_FAILURE_VIEW: a JSON error for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(Forbidden(gettext("CSRF check failed: send the X-CSRFToken header.")))
    return csrf_page(request, reason)
