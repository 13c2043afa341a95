from datetime import timedelta

from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Membership, Room


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class RoomForm(forms.Form):
    name = forms.CharField(max_length=80)
    kind = forms.ChoiceField(
        choices=[(Room.Kind.PUBLIC, "Public"), (Room.Kind.PRIVATE, "Private")],
        initial=Room.Kind.PUBLIC,
    )


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)


class BlockForm(forms.Form):
    username = forms.CharField(max_length=150)


BAN_DURATIONS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "forever": None,
}
MUTE_DURATIONS = {
    "10m": timedelta(minutes=10),
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
}


class TopicForm(forms.Form):
    topic = forms.CharField(max_length=200, required=False)


class SlowModeForm(forms.Form):
    seconds = forms.IntegerField(min_value=0, max_value=6 * 3600)


class PostingForm(forms.Form):
    posting = forms.ChoiceField(choices=Room.Posting.choices)


class MemberForm(forms.Form):
    """Names a member (unban, unmute, remove), with an optional reason for the log."""

    username = forms.CharField(max_length=150)
    reason = forms.CharField(max_length=500, required=False)


class RoleForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices)


class BanForm(MemberForm):
    duration = forms.ChoiceField(
        choices=[("1h", "1 hour"), ("24h", "1 day"), ("7d", "7 days"), ("forever", "Until lifted")]
    )


class MuteForm(MemberForm):
    duration = forms.ChoiceField(
        choices=[("10m", "10 minutes"), ("1h", "1 hour"), ("24h", "1 day"), ("7d", "7 days")]
    )
