"""API tokens and one-time socket tickets: making, finding, revoking.

A token is `chat_` and 43 characters of a 32-byte random secret (URL-safe base64), so secret
scanners can spot one in a leaked file. It is shown once, when it is made; the database keeps
its SHA-256 and its first characters (`prefix`), which find the row and which people recognise
it by. A presented token is looked up by prefix and its digest compared in constant time.

A page of another site cannot put a token in a socket's handshake headers, and a URL is the
wrong place for one (proxies log URLs): it first trades the token for a ticket
(`POST /api/tickets/`), valid once for `CHAT_TICKET_SECONDS`, which the socket URL carries
instead.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from . import broadcast, policy
from .ephemeral import store
from .errors import Forbidden, Invalid, NotFound, TooLong, Unauthenticated
from .models import ApiToken, Bot

PREFIX = "chat_"
SECRET_BYTES = 32
SHOWN = len(PREFIX) + 8  # the characters of a token kept and shown to recognise it
NAME_MAX_LENGTH = 100
EXPIRES_DAYS_MAX = 3650
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used` is written at most this often
SCOPES = {ApiToken.Scope.READ: {"read"}, ApiToken.Scope.WRITE: {"read", "write"}}
ALL_SCOPES = frozenset({"read", "write"})  # a session's


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _managed(actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """Tokens are made and revoked by their user, or by the owner of the bot they belong to
    (and revoked by staff, in admin)."""
    if user.pk == actor.pk or Bot.objects.filter(user=user, owner=actor).exists():
        return
    if policy.rank(actor, None) < policy.Rank.STAFF:
        raise Forbidden(gettext("You may manage your own tokens and your bots' only."))


def create(
    *,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    name: str,
    scope: str,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` (the actor, or a bot of theirs) and its secret, shown once."""
    _managed(actor, user)
    name = " ".join(name.split())
    if not name:
        raise Invalid(gettext("A token needs a name."))
    if len(name) > NAME_MAX_LENGTH:
        raise TooLong(
            gettext("A token's name may be at most %(limit)d characters.")
            % {"limit": NAME_MAX_LENGTH}
        )
    if scope not in ApiToken.Scope.values:
        raise Invalid(gettext("A token's scope is read, or read and write."))
    if expires_days is not None and not 1 <= expires_days <= EXPIRES_DAYS_MAX:
        raise Invalid(
            gettext("A token expires after 1 to %(limit)d days, or never.")
            % {"limit": EXPIRES_DAYS_MAX}
        )
    raw = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:SHOWN],
        digest=_digest(raw),
        scope=scope,
        expires=expires,
    )
    return token, raw


def authenticate(raw: str) -> tuple[AbstractBaseUser, ApiToken]:
    """The active user and the token a presented secret belongs to, or `Unauthenticated`:
    malformed, unknown, expired, and an inactive user's (a deactivated bot's) alike."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        raise Unauthenticated(gettext("That is not an API token."))
    digest = _digest(raw)
    found = None
    for token in ApiToken.objects.select_related("user").filter(prefix=raw[:SHOWN]):
        if hmac.compare_digest(token.digest, digest):
            found = token
    if found is None:
        raise Unauthenticated(gettext("Unknown or revoked token."))
    now = timezone.now()
    if found.expires is not None and found.expires <= now:
        raise Unauthenticated(gettext("This token has expired."))
    if not found.user.is_active:
        raise Unauthenticated(gettext("This token's account is deactivated."))
    if found.last_used is None or now - found.last_used >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=found.pk).update(last_used=now)
    return found.user, found


def scopes_of(token: ApiToken | None) -> frozenset[str]:
    """What a request may do: a token's scopes, everything for a session (None)."""
    return ALL_SCOPES if token is None else frozenset(SCOPES[token.scope])


def manageable(actor: AbstractBaseUser) -> list[ApiToken]:
    """The tokens of the actor and of their bots, newest first."""
    return list(
        ApiToken.objects.filter(user__in=[actor.pk, *bot_ids(actor)]).select_related("user")
    )


def bot_ids(owner: AbstractBaseUser) -> list[int]:
    return list(Bot.objects.filter(owner=owner).values_list("user_id", flat=True))


def revoke(*, actor: AbstractBaseUser, token_id: int) -> ApiToken:
    """The token stops working at once; its open sockets close with 4401 on every worker."""
    with transaction.atomic():
        token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token is None:
            raise NotFound(gettext("No such token."))
        _managed(actor, token.user)
        token.delete()
        broadcast.on_commit(
            broadcast.close_user_sockets,
            token.user_id,
            Unauthenticated.close_code,
            token_id=token_id,
        )
    return token


# Tickets: a token traded for a one-time pass for one socket.


async def issue_ticket(user: AbstractBaseUser, token: ApiToken | None) -> str:
    ticket = secrets.token_urlsafe(SECRET_BYTES)
    value = f"{user.pk}:{token.pk if token else ''}"
    await store().put(f"ticket:{_digest(ticket)}", value, settings.CHAT_TICKET_SECONDS)
    return ticket


async def redeem_ticket(ticket: str) -> tuple[int, int | None]:
    """The user id and token id a ticket was issued for; a ticket works once, and not after
    `CHAT_TICKET_SECONDS`."""
    value = await store().take(f"ticket:{_digest(ticket)}") if len(ticket) < 100 else None
    if value is None:
        raise Unauthenticated(gettext("Unknown, used or expired ticket."))
    user_id, _, token_id = value.partition(":")
    return int(user_id), int(token_id) if token_id else None


def ticket_holder(user_id: int, token_id: int | None) -> tuple[AbstractBaseUser, ApiToken | None]:
    """The active user (and token, still valid) a redeemed ticket names."""
    token = None
    if token_id is not None:
        token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token is None or (token.expires is not None and token.expires <= timezone.now()):
            raise Unauthenticated(gettext("The ticket's token was revoked or has expired."))
        user = token.user
    else:
        user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        raise Unauthenticated(gettext("This account is deactivated."))
    return user, token
