"""Pages and the small JSON API. Each view checks the request's shape and calls a service."""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_sendfile import sendfile

from . import (
    attachments,
    blocks,
    bots,
    conversations,
    moderation,
    policy,
    ratelimits,
    rooms,
    tokens,
)
from .errors import ChatError, Forbidden, NotFound
from .forms import (
    AddMemberForm,
    BanForm,
    BlockForm,
    BotForm,
    MemberForm,
    MuteForm,
    PostingForm,
    RoleForm,
    RoomForm,
    SignupForm,
    SlowModeForm,
    TokenForm,
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
            "upload_max": settings.CHAT_UPLOAD_MAX_BYTES,
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
            flash.error(request, gettext("Unknown action."))
            return redirect("room_settings", slug=room.slug)
        form_class, act = action
        form = form_class(request.POST)
        if form.is_valid():
            try:
                act(actor=request.user, room=room, **form.arguments())
            except ChatError as exc:
                flash.error(request, exc.message)
            else:
                flash.success(request, gettext("Done."))
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
    flash.success(request, gettext("You left %(room)s.") % {"room": room.name})
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
                flash.success(
                    request, gettext("You unblocked %(name)s.") % {"name": request.POST["unblock"]}
                )
            return redirect("block_settings")
        if form.is_valid():
            try:
                made = blocks.block(blocker=request.user, username=form.cleaned_data["username"])
            except ChatError as exc:
                form.add_error("username", exc.message)
            else:
                flash.success(
                    request, gettext("You blocked %(name)s.") % {"name": made.blocked.username}
                )
                return redirect("block_settings")
    return render(
        request,
        "chat/blocks.html",
        {"blocks": blocks.blocked_by(request.user), "form": form, **_sidebar(request)},
        status=400 if form.errors else 200,
    )


def _token_page(
    request: HttpRequest, template: str, context: dict, form: TokenForm
) -> HttpResponse:
    """A settings page listing tokens: mine (`own_tokens`), and each bot's (`listed_tokens`)."""
    managed = tokens.manageable(request.user)
    for bot in context.get("bots", ()):
        bot.listed_tokens = [token for token in managed if token.user_id == bot.user_id]
    own = [token for token in managed if token.user_id == request.user.pk]
    return render(
        request,
        template,
        {**context, "form": form, "own_tokens": own, **_sidebar(request)},
        status=400 if form.errors else 200,
    )


def _revoke(request: HttpRequest) -> None:
    try:
        revoked = tokens.revoke(actor=request.user, token_id=int(request.POST["revoke"]))
    except (ValueError, ChatError) as exc:
        flash.error(request, getattr(exc, "message", gettext("No such token.")))
    else:
        flash.success(request, gettext("The token “%(name)s” is revoked.") % {"name": revoked.name})


def _new_token(request: HttpRequest, form: TokenForm, user) -> dict:
    """Make a token from a valid form; the context that shows its secret, once."""
    try:
        token, secret = tokens.create(actor=request.user, user=user, **form.arguments())
    except ChatError as exc:
        form.add_error("name", exc.message)
        return {}
    return {"new_token": secret, "new_token_name": token.name, "new_token_user": user.username}


@login_required
@require_http_methods(["GET", "POST"])
def token_settings(request: HttpRequest) -> HttpResponse:
    """My API tokens. POST makes one (its secret is on the answering page only) or, with
    `revoke` (an id), revokes one."""
    form = TokenForm(request.POST or None)
    shown: dict = {}
    if request.method == "POST":
        if "revoke" in request.POST:
            _revoke(request)
            return redirect("token_settings")
        if form.is_valid():
            shown = _new_token(request, form, request.user)
            if shown:
                form = TokenForm()
    return _token_page(request, "chat/tokens.html", shown, form)


BOT_ACTIONS = {"deactivate": False, "reactivate": True}


@login_required
@require_http_methods(["GET", "POST"])
def bot_settings(request: HttpRequest) -> HttpResponse:
    """My bots and their tokens. POST `action`: `create` (`username`), `deactivate` or
    `reactivate` (`username`), `token` (`bot` and the token form's fields); or `revoke`."""
    action = request.POST.get("action", "")
    form = TokenForm(request.POST if action == "token" else None)
    bot_form = BotForm(request.POST if action == "create" else None)
    shown: dict = {}
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                _revoke(request)
                return redirect("bot_settings")
            if action == "create" and bot_form.is_valid():
                made = bots.create(owner=request.user, username=bot_form.cleaned_data["username"])
                flash.success(
                    request,
                    gettext("Your bot %(name)s is ready: give it a token.")
                    % {"name": made.user.username},
                )
                return redirect("bot_settings")
            if action in BOT_ACTIONS:
                bot = bots.set_active(
                    owner=request.user,
                    username=request.POST.get("username", ""),
                    active=BOT_ACTIONS[action],
                )
                done = (
                    gettext("%(name)s is deactivated.")
                    if action == "deactivate"
                    else gettext("%(name)s is reactivated.")
                )
                flash.success(request, done % {"name": bot.user.username})
                return redirect("bot_settings")
            if action == "token" and form.is_valid():
                bot = bots.owned(owner=request.user, username=request.POST.get("bot", ""))
                shown = _new_token(request, form, bot.user)
                if shown:
                    form = TokenForm()
        except ChatError as exc:
            if action not in ("create", "token"):
                flash.error(request, exc.message)
                return redirect("bot_settings")
            (bot_form if action == "create" else form).add_error(None, exc.message)
    context = {**shown, "bots": bots.of(request.user), "bot_form": bot_form}
    return _token_page(request, "chat/bots.html", context, form)


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
            flash.success(
                request,
                gettext("%(name)s is a member of %(room)s.")
                % {"name": member.user.username, "room": room.name},
            )
    return redirect("room", slug=room.slug)


@require_GET
def download(
    request: HttpRequest, attachment_id: str, name: str = "", thumbnail: bool = False
) -> HttpResponse:
    """A file (or its thumbnail), after checking, on every request, that the requester may see
    it now (chat.attachments.for_download); anyone else gets 404 or 403, never the bytes.
    PNG, JPEG, GIF and WebP are shown inline; everything else, SVG and HTML included, is a
    download. The bytes come from nginx (X-Accel-Redirect) where it is configured."""
    if not request.user.is_authenticated:
        raise Http404(gettext("No such file."))
    try:
        policy.check_scope(tokens.scopes_of(request.api_token), "download")
        found = attachments.for_download(user=request.user, attachment_id=attachment_id)
    except (NotFound, Forbidden) as exc:
        raise _page_error(exc) from None
    if thumbnail and not found.thumbnail:
        raise Http404(gettext("That file has no thumbnail."))
    path = found.thumbnail.name if thumbnail else found.file.name
    content_type = "image/webp" if thumbnail else found.content_type
    inline = thumbnail or content_type in attachments.INLINE_TYPES.values()
    try:
        local = default_storage.path(path)
    except NotImplementedError:  # S3 and the like: the bytes pass through this worker
        response = FileResponse(
            default_storage.open(path),
            content_type=content_type,
            as_attachment=not inline,
            filename=found.name,
        )
    else:
        response = sendfile(
            request,
            local,
            attachment=not inline,
            attachment_filename=found.name,
            mimetype=content_type,
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    # Should a browser render it anyway, nothing in it runs or reaches anything.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


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
