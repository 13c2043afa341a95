from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Room


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
