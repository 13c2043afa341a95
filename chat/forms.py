from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import rooms
from .models import ApiToken, Membership, Room


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class RoomForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    kind = forms.ChoiceField(
        label=_("Who can join"),
        choices=[(Room.Kind.PUBLIC, _("Public")), (Room.Kind.PRIVATE, _("Private"))],
        initial=Room.Kind.PUBLIC,
    )


class AddMemberForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)


class BlockForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)


class ServiceForm(forms.Form):
    """A form of the room settings page: its data are the keyword arguments of one call to a
    moderation service (`arguments()`)."""

    def arguments(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class TopicForm(ServiceForm):
    topic = forms.CharField(label=_("Topic"), max_length=200, required=False)


class SlowModeForm(ServiceForm):
    seconds = forms.IntegerField(label=_("Slow mode"), min_value=0, max_value=6 * 3600)


class PostingForm(ServiceForm):
    posting = forms.ChoiceField(label=_("Who can post"), choices=Room.Posting.choices)


class UserForm(ServiceForm):
    """Names the member acted on; the service gets the user."""

    username = forms.CharField(label=_("Username"), max_length=150)

    def arguments(self) -> dict[str, Any]:
        arguments = super().arguments()
        arguments["user"] = rooms.find_user(arguments.pop("username"))
        return arguments


class RoleForm(UserForm):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class MemberForm(UserForm):
    """Unban, unmute, remove: a member, and an optional reason for the log."""

    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class BanForm(MemberForm):
    duration = forms.ChoiceField(
        label=_("Duration"),
        choices=[
            ("1h", _("1 hour")),
            ("24h", _("1 day")),
            ("7d", _("7 days")),
            ("forever", _("Until lifted")),
        ],
    )
    durations = {
        "1h": timedelta(hours=1),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
        "forever": None,
    }

    def arguments(self) -> dict[str, Any]:
        arguments = super().arguments()
        length = self.durations[arguments.pop("duration")]
        arguments["until"] = None if length is None else timezone.now() + length
        return arguments


class MuteForm(BanForm):
    duration = forms.ChoiceField(
        label=_("Duration"),
        choices=[
            ("10m", _("10 minutes")),
            ("1h", _("1 hour")),
            ("24h", _("1 day")),
            ("7d", _("7 days")),
        ],
    )
    durations = {
        "10m": timedelta(minutes=10),
        "1h": timedelta(hours=1),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
    }


class TokenForm(forms.Form):
    """A new API token: its name, what it may do, when it stops working."""

    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("It may"),
        choices=[("read", _("Read")), ("write", _("Write"))],
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
    )
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"), min_value=1, max_value=3650, required=False
    )

    def arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        scope = ApiToken.Scope.WRITE if "write" in data["scopes"] else ApiToken.Scope.READ
        return {"name": data["name"], "scope": scope, "expires_days": data["expires_days"]}


class BotForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
