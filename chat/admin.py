"""Django admin for moderators. Every act that changes what users see or may do goes through the
services (`chat.moderation`, `chat.rooms`, `chat.messages`), so it is checked against the actor's
rank, logged, and reaches live sockets at once. Nothing here writes a membership, a role, a
sanction or an account's rights by itself; what the service would refuse is refused first, as a
form error or a missing delete button, so that no act is left half done."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import messages as chat_messages
from . import moderation, policy, rooms, tokens
from .errors import ChatError, Forbidden
from .models import (
    ApiToken,
    Block,
    BlockedTerm,
    Bot,
    Membership,
    Message,
    ModerationLog,
    Mute,
    Report,
    Room,
    RoomBan,
)

User = get_user_model()


class CheckedForm(forms.BaseForm):
    """Mixed into an admin's form: `clean` asks the admin's `check_form` what the service would
    refuse this actor, and shows it as a form error."""

    actor = None
    check = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            type(self).check(self.actor, self, data)
        except ChatError as exc:
            raise ValidationError(exc.message) from None
        return data


class CheckedAdmin(admin.ModelAdmin):
    """An admin whose saves and deletions go through a service: `check_form` and
    `check_delete` raise the `ChatError` the service would."""

    def check_form(self, actor, form: forms.BaseForm, data: dict[str, Any]) -> None:
        pass

    def check_delete(self, actor, obj) -> None:
        pass

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        check = self.check_form
        return type(
            form.__name__,
            (CheckedForm, form),
            {"actor": request.user, "check": staticmethod(check)},
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        try:
            if obj is not None:
                self.check_delete(request.user, obj)
        except ChatError:
            return False
        return True


class MembershipInline(admin.TabularInline):
    """Who is in the room, to read: members are added, re-roled and removed on the Memberships
    page, through the services."""

    model = Membership
    extra = 0
    fields = ["user", "role", "joined", "last_read"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Room)
class RoomAdmin(CheckedAdmin):
    list_display = ["name", "slug", "kind", "posting", "slow_mode_seconds", "created"]
    list_filter = ["kind", "posting", "created"]
    search_fields = ["name", "slug", "topic"]
    inlines = [MembershipInline]
    add_fields = ["name", "kind", "topic"]
    readonly_fields = ["slug", "kind", "created_by", "created"]

    # Changing these is a moderation act: logged, and announced to the room's sockets.
    moderated = {
        "topic": moderation.set_topic,
        "slow_mode_seconds": moderation.set_slow_mode,
        "posting": moderation.set_posting,
    }
    service_argument = {"topic": "topic", "slow_mode_seconds": "seconds", "posting": "posting"}

    def get_inlines(self, request: HttpRequest, obj=None) -> list:
        return self.inlines if obj is not None else []

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return self.add_fields
        return [*self.readonly_fields, "name", *self.moderated]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def check_form(self, actor, form: forms.BaseForm, data: dict[str, Any]) -> None:
        if form.instance.pk is None:
            if data.get("kind") == Room.Kind.DIRECT:
                raise Forbidden(gettext("Direct rooms are made by their two people, not here."))
            if "name" in data:
                rooms.clean_name(data["name"])

    def save_model(self, request: HttpRequest, obj: Room, form, change: bool) -> None:
        if not change:
            # A room made here is made as anywhere else: its maker owns it.
            made = rooms.create_room(
                creator=request.user, name=obj.name, kind=obj.kind, topic=obj.topic
            )
            obj.pk, obj.slug, obj.created_by, obj.created = (
                made.pk,
                made.slug,
                made.created_by,
                made.created,
            )
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
class MembershipAdmin(CheckedAdmin):
    """Adding, re-roling and removing members, each through the service the room settings
    page uses: checked against the actor's rank, logged, effective on live sockets."""

    list_display = ["user", "room", "role", "joined"]
    list_filter = ["role", "room__kind"]
    search_fields = ["user__username", "room__name", "room__slug"]
    autocomplete_fields = ["user", "room"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return ["joined", "last_read", "last_write"]
        return ["room", "user", "joined", "last_read", "last_write"]

    def check_form(self, actor, form: forms.BaseForm, data: dict[str, Any]) -> None:
        member = form.instance
        room = data.get("room") or (member.room if member.pk else None)
        user = data.get("user") or (member.user if member.pk else None)
        if room is None or user is None:
            return
        if member.pk is None:
            policy.check_may_add_member(actor, room)
        if data.get("role", Membership.Role.MEMBER) != (member.role if member.pk else "member"):
            policy.check_may_set_role(actor, user, room, data["role"])

    def check_delete(self, actor, obj: Membership) -> None:
        policy.check_may_remove(actor, obj.user, obj.room)

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        if not change:
            made = rooms.add_member(actor=request.user, room=obj.room, username=obj.user.username)
            obj.pk, obj.joined, role = made.pk, made.joined, obj.role
            obj.role = made.role
            if role != made.role:
                moderation.set_role(actor=request.user, room=obj.room, user=obj.user, role=role)
        elif "role" in form.changed_data:
            moderation.set_role(actor=request.user, room=obj.room, user=obj.user, role=obj.role)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        moderation.remove_member(actor=request.user, room=obj.room, user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for membership in queryset.select_related("room", "user"):
            self.delete_model(request, membership)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are read and deleted here, never rewritten: deletion is soft and logged."""

    list_display = ["id", "room", "author", "short_body", "created", "edited", "deleted"]
    list_filter = ["room__kind", "created", ("deleted", admin.EmptyFieldListFilter)]
    search_fields = ["body", "author__username", "room__name", "room__slug"]
    list_select_related = ["room", "author"]
    readonly_fields = ["room", "author", "body", "client_id", "created", "edited", "deleted"]
    date_hierarchy = "created"

    @admin.display(description=_("body"))
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


class SanctionAdmin(CheckedAdmin):
    """Bans and mutes: imposed, replaced and lifted by the moderation service, never by the
    admin, and only by someone who outranks the person and whoever imposed it."""

    list_display = ["user", "room", "until", "reason", "created_by", "created"]
    list_filter = ["until", "created"]
    search_fields = ["user__username", "room__name", "reason"]
    autocomplete_fields = ["room", "user"]
    fields = ["room", "user", "until", "reason", "created_by", "created"]
    readonly_fields = ["created_by", "created"]
    impose = lift = None  # the service functions, per model

    def check_form(self, actor, form: forms.BaseForm, data: dict[str, Any]) -> None:
        room, user = data.get("room"), data.get("user")
        if room and user:
            existing = self.model.objects.filter(room=room, user=user).first()
            policy.check_may_sanction(actor, user, room, existing)

    def check_delete(self, actor, obj) -> None:
        policy.check_may_sanction(actor, obj.user, obj.room, obj)

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


def _resolution(resolution: str, description: Promise):
    @admin.action(description=description)
    def act(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for report in queryset.select_related("message__room", "message__author"):
            try:
                moderation.resolve_report(actor=request.user, report=report, resolution=resolution)
                done += 1
            except ChatError as exc:
                modeladmin.message_user(
                    request,
                    gettext("Report #%(id)s: %(error)s") % {"id": report.pk, "error": exc.message},
                    messages.ERROR,
                )
        if done:
            counted = ngettext(
                "%(action)s: %(count)d report.", "%(action)s: %(count)d reports.", done
            )
            modeladmin.message_user(
                request, counted % {"action": description, "count": done}, messages.SUCCESS
            )

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
        _resolution("delete", _("Delete the message")),
        _resolution("delete_ban", _("Delete the message and ban its author from the room")),
        _resolution("mute_1h", _("Mute the author in the room for 1 hour")),
        _resolution("mute_24h", _("Mute the author in the room for 24 hours")),
        _resolution("dismiss", _("Dismiss")),
    ]

    @admin.display(description=_("message"))
    def message_excerpt(self, obj: Report) -> str:
        body = obj.message.body
        return body if len(body) <= 60 else body[:59] + "…"

    @admin.display(description=_("author"))
    def author(self, obj: Report) -> str:
        return obj.message.author.username

    @admin.display(description=_("room"))
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


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    """Bots and who owns them; bots are made and run from their owner's settings page, and
    deactivated here like any account (Users)."""

    list_display = ["user", "owner", "created", "active"]
    list_select_related = ["user", "owner"]
    search_fields = ["user__username", "owner__username"]
    readonly_fields = ["user", "owner", "created"]

    @admin.display(boolean=True, description=_("active"))
    def active(self, obj: Bot) -> bool:
        return obj.user.is_active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens, to read and to revoke: deleting one revokes it (its sockets close)."""

    list_display = ["name", "prefix", "user", "scope", "created", "last_used", "expires"]
    list_select_related = ["user"]
    list_filter = ["scope", "created"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "scope", "created", "last_used", "expires"]
    exclude = ["digest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        tokens.revoke(actor=request.user, token_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for token in queryset:
            self.delete_model(request, token)


@admin.action(description=_("Deactivate the selected accounts (closes their sockets)"))
def deactivate_users(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
    for user in queryset.filter(is_active=True):
        try:
            moderation.set_active(actor=request.user, user=user, active=False)
        except ChatError as exc:
            modeladmin.message_user(
                request,
                gettext("%(user)s: %(error)s") % {"user": user, "error": exc.message},
                messages.ERROR,
            )


admin.site.unregister(User)


@admin.register(User)
class ChatUserAdmin(CheckedAdmin, UserAdmin):
    """Auth's user admin, with (de)activation, staff rights and deletion going through the
    moderation service: checked against the actor's rank, logged, and effective on the user's
    live sockets."""

    actions = [deactivate_users]
    guarded = ("is_active", "is_staff", "is_superuser")

    def check_form(self, actor, form: forms.BaseForm, data: dict[str, Any]) -> None:
        if form.instance.pk is None:
            return
        changed = {field for field in self.guarded if field in form.changed_data}
        if changed:
            policy.check_may_act(actor, form.instance, None)
        if changed & {"is_staff", "is_superuser"}:
            policy.check_may_set_staff(actor, form.instance)

    def check_delete(self, actor, obj) -> None:
        policy.check_may_act(actor, obj, None)

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        changed = [field for field in self.guarded if field in form.changed_data] if change else []
        wanted = {field: getattr(obj, field) for field in changed}
        for field in changed:
            setattr(obj, field, form.initial[field])
        super().save_model(request, obj, form, change)
        if "is_active" in wanted:
            moderation.set_active(actor=request.user, user=obj, active=wanted["is_active"])
        if {"is_staff", "is_superuser"} & wanted.keys():
            moderation.set_staff(
                actor=request.user,
                user=obj,
                is_staff=wanted.get("is_staff", obj.is_staff),
                is_superuser=wanted.get("is_superuser", obj.is_superuser),
            )

    def delete_model(self, request: HttpRequest, obj) -> None:
        moderation.delete_account(actor=request.user, user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            self.delete_model(request, user)
