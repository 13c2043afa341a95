"""Blocking: a person can stop direct messages with someone, who is told no more than `forbidden`.

A block works in both directions, so a blocker cannot message the person they block either;
that way neither side can tell from the error who blocked whom.

The checks (is there a block between two people?) are `chat.policy`'s; these are the acts.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext

from .errors import Invalid, NotFound
from .models import Block


def block(*, blocker: AbstractBaseUser, username: str) -> Block:
    target = get_user_model().objects.filter(username=username.strip()).first()
    if target is None:
        raise NotFound(gettext("No user called “%(name)s”.") % {"name": username.strip()})
    if target.pk == blocker.pk:
        raise Invalid(gettext("You cannot block yourself."))
    made, _ = Block.objects.get_or_create(blocker=blocker, blocked=target)
    return made


def unblock(*, blocker: AbstractBaseUser, username: str) -> bool:
    """Lift a block; whether there was one."""
    return bool(Block.objects.filter(blocker=blocker, blocked__username=username).delete()[0])


def blocked_by(user: AbstractBaseUser) -> list[Block]:
    return list(Block.objects.filter(blocker=user).select_related("blocked").order_by("created"))
