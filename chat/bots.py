"""Bot accounts: made, listed, deactivated and reactivated by the person who owns them.

A bot is an ordinary account (it joins rooms, posts, is moderated like a person) with no
password: it cannot log in through the login page and acts only through API tokens, which its
owner makes for it. Deactivating it closes its sockets (chat.signals), as for anyone.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from .errors import Forbidden, Invalid, NotFound, TooLong
from .models import Bot

USERNAME_MAX_LENGTH = 150


def create(*, owner: AbstractBaseUser, username: str) -> Bot:
    username = username.strip()
    if Bot.objects.filter(user=owner).exists():
        raise Forbidden(gettext("A bot cannot own bots."))
    if len(username) > USERNAME_MAX_LENGTH:
        raise TooLong(
            gettext("A username may be at most %(limit)d characters.")
            % {"limit": USERNAME_MAX_LENGTH}
        )
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise Invalid(gettext("A username is letters, digits and @ . + - _ only.")) from None
    users = get_user_model()
    if users.objects.filter(username__iexact=username).exists():
        raise Invalid(gettext("The username “%(name)s” is taken.") % {"name": username})
    if Bot.objects.filter(owner=owner).count() >= settings.CHAT_BOTS_PER_USER:
        raise Forbidden(
            gettext("You may own at most %(limit)d bots.") % {"limit": settings.CHAT_BOTS_PER_USER}
        )
    with transaction.atomic():
        user = users.objects.create_user(username)  # no password: set unusable
        return Bot.objects.create(user=user, owner=owner)


def owned(*, owner: AbstractBaseUser, username: str) -> Bot:
    bot = Bot.objects.select_related("user").filter(owner=owner, user__username=username).first()
    if bot is None:
        raise NotFound(gettext("You have no bot called “%(name)s”.") % {"name": username})
    return bot


def set_active(*, owner: AbstractBaseUser, username: str, active: bool) -> Bot:
    """Deactivating a bot closes its sockets on every worker (4401) and refuses its tokens."""
    bot = owned(owner=owner, username=username)
    bot.user.is_active = active
    bot.user.save(update_fields=["is_active"])
    return bot


def of(owner: AbstractBaseUser) -> list[Bot]:
    return list(Bot.objects.filter(owner=owner).select_related("user"))


def usernames(user_ids: list[int]) -> set[str]:
    """Which of these users are bots, by username (for the bot badge)."""
    return set(Bot.objects.filter(user_id__in=user_ids).values_list("user__username", flat=True))
