"""Pages and the small JSON API. Each view checks the request's shape and calls a service."""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import blocks, conversations, messages, moderation, policy, protocol, ratelimits, rooms
from .errors import ChatError, Forbidden, NotFound, Unauthenticated
from .forms import (
    AddMemberForm,
    BanForm,
    BlockForm,
    MemberForm,
    MuteForm,
    PostingForm,
    RoleForm,
    RoomForm,
    SignupForm,
    SlowModeForm,
    TopicForm,
)
from .models import Membership, Mute, RoomBan


def _client_address(request: HttpRequest) -> str:
    """Daphne puts the client's address here, from the proxy's X-Forwarded-For when it runs
    with --proxy-headers (deploy/nginx.conf sets that header, never passes the client's)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _page_error(exc: NotFound | Forbidden) -> Exception:
    """For pages: what is not there is a 404 page, what is not allowed a 403 page."""
    return Http404(exc.message) if isinstance(exc, NotFound) else PermissionDenied(exc.message)


def _open_or_raise(request: HttpRequest, slug: str):
    try:
        return rooms.open_room(user=request.user, slug=slug)
    except (NotFound, Forbidden) as exc:
        raise _page_error(exc) from None


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("lobby")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ratelimits.check_sync("signup", _client_address(request))
        except ChatError as exc:
            form.add_error(None, exc.message)
            return render(request, "registration/signup.html", {"form": form}, status=429)
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("lobby")
    return render(request, "registration/signup.html", {"form": form})


def _sidebar(request: HttpRequest) -> dict:
    """What every chat page's sidebar starts from: my conversations and their unread counts."""
    mine = conversations.mine(request.user)
    return {"conversations": mine, "total_unread": conversations.total_unread(mine)}


def _home_context(request: HttpRequest, form: RoomForm) -> dict:
    return {
        **_sidebar(request),
        "discover": conversations.discover(request.user, page=request.GET.get("page", 1)),
        "form": form,
    }


@login_required
@require_GET
def lobby(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/home.html", _home_context(request, RoomForm()))


@login_required
@require_POST
def room_create(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            ratelimits.check_sync("room", request.user.pk)
            room = rooms.create_room(
                creator=request.user, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            )
        except ChatError as exc:
            form.add_error("name", exc.message)
            status = exc.http_status
        else:
            return redirect("room", slug=room.slug)
    return render(request, "chat/home.html", _home_context(request, form), status=status)


@login_required
@require_GET
def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    room, member = _open_or_raise(request, slug)
    moderator = policy.is_moderator(request.user, room)
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "member": member,
            "title": rooms.title_for(room, request.user),
            "can_add_members": room.kind != room.Kind.DIRECT and moderator,
            "can_moderate": moderator,
            "can_leave": room.kind != room.Kind.DIRECT,
            "add_member_form": AddMemberForm(),
            **_sidebar(request),
        },
    )


# What each form on the room settings page does: its form, and the service it calls.
SETTINGS_ACTIONS = {
    "topic": (TopicForm, moderation.set_topic),
    "slow_mode": (SlowModeForm, moderation.set_slow_mode),
    "posting": (PostingForm, moderation.set_posting),
    "role": (RoleForm, moderation.set_role),
    "ban": (BanForm, moderation.ban),
    "unban": (MemberForm, moderation.unban),
    "mute": (MuteForm, moderation.mute),
    "unmute": (MemberForm, moderation.unmute),
    "remove": (MemberForm, moderation.remove_member),
}


@login_required
@require_http_methods(["GET", "POST"])
def room_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The room's owner and moderators moderate it here; POST `action` names the form."""
    room, _ = _open_or_raise(request, slug)
    try:
        rank = policy.require_moderator(request.user, room)
    except Forbidden as exc:
        raise _page_error(exc) from None
    if request.method == "POST":
        action = SETTINGS_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            flash.error(request, "Unknown action.")
            return redirect("room_settings", slug=room.slug)
        form_class, act = action
        form = form_class(request.POST)
        if form.is_valid():
            try:
                act(actor=request.user, room=room, **form.arguments())
            except ChatError as exc:
                flash.error(request, exc.message)
            else:
                flash.success(request, "Done.")
        else:
            flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("room_settings", slug=room.slug)
    return render(
        request,
        "chat/room_settings.html",
        {
            "room": room,
            "title": rooms.title_for(room, request.user),
            "memberships": Membership.objects.filter(room=room)
            .select_related("user")
            .order_by("user__username"),
            "bans": RoomBan.objects.active().filter(room=room).select_related("user"),
            "mutes": Mute.objects.active().filter(room=room).select_related("user"),
            "can_change_roles": rank >= policy.Rank.OWNER,
            "topic_form": TopicForm(initial={"topic": room.topic}),
            "slow_mode_form": SlowModeForm(initial={"seconds": room.slow_mode_seconds}),
            "posting_form": PostingForm(initial={"posting": room.posting}),
            "role_form": RoleForm(),
            "ban_form": BanForm(),
            "mute_form": MuteForm(),
            "moderation_log": room.moderation_log.select_related("actor", "target")[:50],
            **_sidebar(request),
        },
    )


@login_required
@require_POST
def room_leave(request: HttpRequest, slug: str) -> HttpResponse:
    """Leave a public or private room; the lobby says so."""
    try:
        room = rooms.get_room(slug)
        rooms.leave_room(user=request.user, room=room)
    except NotFound as exc:
        raise _page_error(exc) from None
    except ChatError as exc:
        flash.error(request, exc.message)
        return redirect("room", slug=slug)
    flash.success(request, f"You left {room.name}.")
    return redirect("lobby")


@login_required
@require_GET
def direct(request: HttpRequest, username: str) -> HttpResponse:
    """Start or continue a direct conversation: 404 for no such user, 403 when blocked."""
    try:
        other = rooms.find_user(username)
        room = rooms.direct_room(user=request.user, other=other)
    except (NotFound, Forbidden) as exc:
        raise _page_error(exc) from None
    except ChatError as exc:
        flash.error(request, exc.message)
        return redirect("lobby")
    return redirect("room", slug=room.slug)


@login_required
@require_http_methods(["GET", "POST"])
def block_settings(request: HttpRequest) -> HttpResponse:
    """Who I block. POST `username` blocks; POST `unblock` (a username) lifts a block."""
    form = BlockForm(request.POST or None)
    if request.method == "POST":
        if "unblock" in request.POST:
            if blocks.unblock(blocker=request.user, username=request.POST["unblock"]):
                flash.success(request, f"You unblocked {request.POST['unblock']}.")
            return redirect("block_settings")
        if form.is_valid():
            try:
                made = blocks.block(blocker=request.user, username=form.cleaned_data["username"])
            except ChatError as exc:
                form.add_error("username", exc.message)
            else:
                flash.success(request, f"You blocked {made.blocked.username}.")
                return redirect("block_settings")
    return render(
        request,
        "chat/blocks.html",
        {"blocks": blocks.blocked_by(request.user), "form": form, **_sidebar(request)},
        status=400 if form.errors else 200,
    )


USER_SEARCH_LIMIT = 10


@never_cache
@require_GET
def api_rooms(request: HttpRequest) -> JsonResponse:
    """`{"rooms": [...]}`: my rooms with their unread and mention counts, then the public
    rooms I have not joined. Clients ask at start and after every reconnect."""
    if not request.user.is_authenticated:
        return _json_error(Unauthenticated())
    return JsonResponse({"rooms": [entry.data() for entry in conversations.listing(request.user)]})


@never_cache
@require_GET
def api_users(request: HttpRequest) -> JsonResponse:
    """`?q=` a username prefix: `{"users": [username...]}`, for starting a conversation."""
    if not request.user.is_authenticated:
        return _json_error(Unauthenticated())
    query = request.GET.get("q", "").strip()
    if not query:
        return JsonResponse({"users": []})
    users = (
        get_user_model()
        .objects.filter(username__istartswith=query[:150], is_active=True)
        .exclude(pk=request.user.pk)
        .order_by("username")
        .values_list("username", flat=True)[:USER_SEARCH_LIMIT]
    )
    return JsonResponse({"users": list(users)})


@login_required
@require_POST
def room_add_member(request: HttpRequest, slug: str) -> HttpResponse:
    room, _ = _open_or_raise(request, slug)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            member = rooms.add_member(
                actor=request.user, room=room, username=form.cleaned_data["username"]
            )
        except Forbidden as exc:
            raise _page_error(exc) from None
        except ChatError as exc:
            flash.error(request, exc.message)
        else:
            flash.success(request, f"{member.user.username} is a member of {room.name}.")
    return redirect("room", slug=room.slug)


def _json_error(exc: ChatError) -> JsonResponse:
    return JsonResponse({"error": exc.code, "message": exc.message}, status=exc.http_status)


def _query_fields(request: HttpRequest, *names: str) -> dict[str, int | str]:
    """Query parameters as a frame's fields, for `protocol`'s checks: plain digits become ints."""
    return {
        name: int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else raw
        for name in names
        if (raw := request.GET.get(name)) is not None
    }


@never_cache
@require_GET
def api_messages(request: HttpRequest, slug: str) -> JsonResponse:
    """`{"messages": [...], "has_more": bool}`, oldest first; errors as JSON with a status."""
    if not request.user.is_authenticated:
        return _json_error(Unauthenticated())
    try:
        query = _query_fields(request, "before", "after", "limit")
        limit = protocol.limit_field(query, settings.CHAT_HISTORY_PAGE)
        before = protocol.optional_id_field(query, "before")
        after = protocol.optional_id_field(query, "after", zero=True)
        room, _ = rooms.open_room(user=request.user, slug=slug)
        page, has_more = messages.history(room=room, before=before, after=after, limit=limit)
    except ChatError as exc:
        return _json_error(exc)
    return JsonResponse(
        {"messages": [protocol.message_data(m) for m in page], "has_more": has_more}
    )


HEALTH_TIMEOUT = 2.0


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _channel_layer_ok() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.group_add("healthz", channel)
    await layer.group_discard("healthz", channel)


async def _check(check) -> str:
    try:
        await asyncio.wait_for(check(), HEALTH_TIMEOUT)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: is the database answering, and the channel layer?"""
    database = await _check(sync_to_async(_database_ok))
    channel_layer = await _check(_channel_layer_ok)
    healthy = database == "ok" and channel_layer == "ok"
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "database": database,
            "channel_layer": channel_layer,
        },
        status=200 if healthy else 503,
    )
