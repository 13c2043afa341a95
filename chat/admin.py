"""Django admin for moderators. Every act that changes what users see goes through the services
(`chat.moderation`, `chat.messages`), so it is logged and reaches live sockets at once."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from . import messages as chat_messages
from . import moderation
from .errors import ChatError
from .models import (
    Block,
    BlockedTerm,
    Membership,
    Message,
    ModerationLog,
    Mute,
    Report,
    Room,
    RoomBan,
)

User = get_user_model()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined", "last_read"]
    readonly_fields = ["joined", "last_read"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "posting", "slow_mode_seconds", "created"]
    list_filter = ["kind", "posting", "created"]
    search_fields = ["name", "slug", "topic"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    # Changing these is a moderation act: logged, and announced to the room's sockets.
    moderated = {
        "topic": moderation.set_topic,
        "slow_mode_seconds": moderation.set_slow_mode,
        "posting": moderation.set_posting,
    }
    service_argument = {"topic": "topic", "slow_mode_seconds": "seconds", "posting": "posting"}

    def save_model(self, request: HttpRequest, obj: Room, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        original = Room.objects.get(pk=obj.pk)
        wanted = {field: getattr(obj, field) for field in self.moderated}
        for field in self.moderated:
            setattr(obj, field, getattr(original, field))
        super().save_model(request, obj, form, change)
        for field, act in self.moderated.items():
            if wanted[field] != getattr(original, field):
                act(actor=request.user, room=obj, **{self.service_argument[field]: wanted[field]})


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "role", "joined"]
    list_filter = ["role", "room__kind"]
    search_fields = ["user__username", "room__name", "room__slug"]
    autocomplete_fields = ["user", "room"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are read and deleted here, never rewritten: deletion is soft and logged."""

    list_display = ["id", "room", "author", "short_body", "created", "edited", "deleted"]
    list_filter = ["room__kind", "created", ("deleted", admin.EmptyFieldListFilter)]
    search_fields = ["body", "author__username", "room__name", "room__slug"]
    list_select_related = ["room", "author"]
    readonly_fields = ["room", "author", "body", "client_id", "created", "edited", "deleted"]
    date_hierarchy = "created"

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        if obj.deleted is None:
            chat_messages.delete(actor=request.user, room=obj.room, message_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for message in queryset.select_related("room").filter(deleted__isnull=True):
            self.delete_model(request, message)


class ActorForm(forms.ModelForm):
    """Refuses, as a form error, what the moderation service would refuse for this actor."""

    actor = None

    def clean(self) -> dict:
        data = super().clean()
        room, user = data.get("room"), data.get("user")
        if room and user:
            try:
                moderation.check_may_act(self.actor, user, room)
            except ChatError as exc:
                raise ValidationError(exc.message) from None
        return data


class ActorFormMixin:
    form = ActorForm

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})


class SanctionAdmin(ActorFormMixin, admin.ModelAdmin):
    """Bans and mutes: saved and lifted by the moderation service, never by the admin."""

    list_display = ["user", "room", "until", "reason", "created_by", "created"]
    list_filter = ["until", "created"]
    search_fields = ["user__username", "room__name", "reason"]
    autocomplete_fields = ["room", "user"]
    fields = ["room", "user", "until", "reason", "created_by", "created"]
    readonly_fields = ["created_by", "created"]
    impose = lift = None  # the service functions, per model

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        made = type(self).impose(
            actor=request.user, room=obj.room, user=obj.user, until=obj.until, reason=obj.reason
        )
        obj.pk, obj.created_by, obj.created = made.pk, made.created_by, made.created

    def delete_model(self, request: HttpRequest, obj) -> None:
        type(self).lift(actor=request.user, room=obj.room, user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for sanction in queryset.select_related("room", "user"):
            self.delete_model(request, sanction)


@admin.register(RoomBan)
class RoomBanAdmin(SanctionAdmin):
    impose, lift = moderation.ban, moderation.unban


@admin.register(Mute)
class MuteAdmin(SanctionAdmin):
    impose, lift = moderation.mute, moderation.unmute


def _resolution(resolution: str, description: str):
    @admin.action(description=description)
    def act(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for report in queryset.select_related("message__room", "message__author"):
            try:
                moderation.resolve_report(actor=request.user, report=report, resolution=resolution)
                done += 1
            except ChatError as exc:
                modeladmin.message_user(
                    request, f"Report #{report.pk}: {exc.message}", messages.ERROR
                )
        if done:
            modeladmin.message_user(request, f"{description}: {done} report(s).", messages.SUCCESS)

    act.__name__ = f"resolve_{resolution}"
    return act


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "message_excerpt",
        "author",
        "room",
        "reporter",
        "reason",
        "created",
        "handled_by",
    ]
    list_filter = ["status", "created"]
    search_fields = ["reason", "message__body", "reporter__username", "message__author__username"]
    list_select_related = ["message__room", "message__author", "reporter", "handled_by"]
    readonly_fields = [
        "message",
        "reporter",
        "reason",
        "status",
        "created",
        "handled_by",
        "handled_at",
    ]
    actions = [
        _resolution("delete", "Delete the message"),
        _resolution("delete_ban", "Delete the message and ban its author from the room"),
        _resolution("mute_1h", "Mute the author in the room for 1 hour"),
        _resolution("mute_24h", "Mute the author in the room for 24 hours"),
        _resolution("dismiss", "Dismiss"),
    ]

    @admin.display(description="message")
    def message_excerpt(self, obj: Report) -> str:
        body = obj.message.body
        return body if len(body) <= 60 else body[:59] + "…"

    @admin.display(description="author")
    def author(self, obj: Report) -> str:
        return obj.message.author.username

    @admin.display(description="room")
    def room(self, obj: Report) -> str:
        return obj.message.room.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ModerationLog)
class ModerationLogAdmin(admin.ModelAdmin):
    """Read-only: the log is the record of what moderators did."""

    list_display = ["created", "actor", "action", "target", "room", "detail", "reason"]
    list_filter = ["action", "created"]
    search_fields = ["actor__username", "target__username", "room__name", "reason", "detail"]
    list_select_related = ["actor", "target", "room"]
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(BlockedTerm)
class BlockedTermAdmin(admin.ModelAdmin):
    list_display = ["term", "action", "created"]
    list_filter = ["action"]
    search_fields = ["term"]


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    autocomplete_fields = ["blocker", "blocked"]


@admin.action(description="Deactivate the selected accounts (closes their sockets)")
def deactivate_users(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    for user in queryset.filter(is_active=True):
        try:
            moderation.set_active(actor=request.user, user=user, active=False)
        except ChatError as exc:
            modeladmin.message_user(request, f"{user}: {exc.message}", messages.ERROR)


admin.site.unregister(User)


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    """Auth's user admin, with (de)activation going through the moderation service."""

    actions = [deactivate_users]

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if not change or "is_active" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        wanted = obj.is_active
        obj.is_active = not wanted
        super().save_model(request, obj, form, change)
        try:
            moderation.set_active(actor=request.user, user=obj, active=wanted)
        except ChatError as exc:
            self.message_user(request, exc.message, messages.ERROR)
