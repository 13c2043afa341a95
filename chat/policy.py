"""Checks: who may open a room, write in it, and act on whom; blocked terms; the moderation log.

The leaf of the service layer: it imports nothing of ours but models and errors, so that rooms,
messages, moderation and blocks all ask the same questions here, whichever door a request came
through (socket, page, API, admin). The acts that change things live above it.

Rank decides who may act on whom: a superuser outranks staff, staff outrank a room's owner, who
outranks its moderators, who outrank members. Rank is read from the database for every act,
never from the user object a socket resolved at its handshake, so rights withdrawn in admin
hold at once on sockets already open.
"""

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from .errors import Forbidden, Invalid, Muted, RateLimited, TooLong
from .models import (
    Block,
    BlockedTerm,
    Membership,
    Message,
    ModerationLog,
    Mute,
    Room,
    RoomBan,
    Sanction,
)

REASON_MAX_LENGTH = 500


class Rank(IntEnum):
    MEMBER = 0
    MODERATOR = 1
    OWNER = 2
    STAFF = 3
    SUPERUSER = 4


ROLE_RANK = {
    Membership.Role.MEMBER: Rank.MEMBER,
    Membership.Role.MODERATOR: Rank.MODERATOR,
    Membership.Role.OWNER: Rank.OWNER,
}


def rank_of(*, is_superuser: bool, is_staff: bool, role: str | None) -> Rank:
    if is_superuser:
        return Rank.SUPERUSER
    if is_staff:
        return Rank.STAFF
    return ROLE_RANK.get(role, Rank.MEMBER)


def rank(user: AbstractBaseUser | None, room: Room | None) -> Rank:
    """`user`'s rank in `room` (site-wide with no room), read fresh: one query. An account
    that is gone or deactivated has no rank above a member's."""
    if user is None:
        return Rank.MEMBER
    rows = get_user_model().objects.filter(pk=user.pk, is_active=True)
    if room is not None:
        role = Membership.objects.filter(room=room, user=OuterRef("pk")).values("role")[:1]
        rows = rows.annotate(role=Subquery(role))
        found = rows.values_list("is_superuser", "is_staff", "role").first()
    else:
        found = rows.values_list("is_superuser", "is_staff").first()
        found = found and (*found, None)
    if found is None:
        return Rank.MEMBER
    return rank_of(is_superuser=found[0], is_staff=found[1], role=found[2])


def is_moderator(user: AbstractBaseUser, room: Room) -> bool:
    """Staff, and the room's owner and moderators."""
    return rank(user, room) >= Rank.MODERATOR


def require_moderator(actor: AbstractBaseUser, room: Room) -> Rank:
    """The actor's rank, which must be a moderator's."""
    actor_rank = rank(actor, room)
    if actor_rank < Rank.MODERATOR:
        raise Forbidden(gettext("Only the room's moderators may do that."))
    return actor_rank


def check_may_act(actor: AbstractBaseUser, target: AbstractBaseUser, room: Room | None) -> None:
    """Raises unless `actor` may ban, mute, remove or re-role `target` (in `room`; site-wide
    acts with none, which only staff make)."""
    actor_rank = rank(actor, room)
    if actor_rank < (Rank.MODERATOR if room is not None else Rank.STAFF):
        raise Forbidden(gettext("You may not moderate here."))
    if actor.pk == target.pk:
        raise Forbidden(gettext("You cannot act on yourself."))
    if actor_rank <= rank(target, room):
        raise Forbidden(gettext("You cannot act on someone of equal or higher rank."))


def check_may_undo(actor: AbstractBaseUser, imposer: AbstractBaseUser | None, room: Room) -> None:
    """Lifting or replacing a sanction undoes its imposer's act: only someone of at least the
    imposer's rank may. Their rank now counts, not when they acted."""
    if imposer is None or imposer.pk == actor.pk:
        return
    if rank(actor, room) < rank(imposer, room):
        raise Forbidden(
            gettext("Someone of higher rank did this; only they or their peers may undo it.")
        )


def check_may_sanction(
    actor: AbstractBaseUser, target: AbstractBaseUser, room: Room, existing: Sanction | None
) -> None:
    """Imposing, replacing or lifting a ban or a mute: over the target, and over whoever
    imposed the one in force."""
    check_may_act(actor, target, room)
    if existing is not None:
        check_may_undo(actor, existing.created_by, room)


def check_may_add_member(actor: AbstractBaseUser, room: Room) -> None:
    if room.kind == Room.Kind.DIRECT:
        raise Forbidden(gettext("A direct conversation has exactly two people."))
    if not is_moderator(actor, room):
        raise Forbidden(gettext("Only the room's owner or moderators may add members."))


def check_may_remove(actor: AbstractBaseUser, target: AbstractBaseUser, room: Room) -> None:
    if room.kind == Room.Kind.DIRECT:
        raise Forbidden(gettext("A direct conversation has exactly two people."))
    check_may_act(actor, target, room)


def check_may_set_role(
    actor: AbstractBaseUser, target: AbstractBaseUser, room: Room, role: str
) -> None:
    """The owner (or staff) names moderators; only staff hand over ownership."""
    if role not in Membership.Role.values:
        raise Invalid(gettext("A role is owner, moderator or member."))
    actor_rank = rank(actor, room)
    if actor_rank < Rank.OWNER:
        raise Forbidden(gettext("Only the room's owner may change roles."))
    if role == Membership.Role.OWNER and actor_rank < Rank.STAFF:
        raise Forbidden(gettext("Only staff may make someone an owner."))
    check_may_act(actor, target, room)


def check_may_set_staff(actor: AbstractBaseUser, target: AbstractBaseUser) -> None:
    if rank(actor, None) < Rank.SUPERUSER:
        raise Forbidden(gettext("Only a superuser may change staff rights."))
    check_may_act(actor, target, None)


# What an API token's scope allows: `read` opens sockets and reads; `write` also changes things.
# Frames and HTTP endpoints are named here alike, and checked in one place (`check_scope`).
WRITES = {
    "message.send",
    "message.edit",
    "message.delete",
    "message.report",
    "reaction.add",
    "reaction.remove",
    "dm.send",
    "typing",
    "upload",
    "upload.start",
    "upload.finish",
    "upload.cancel",
    "direct",  # starting a direct conversation (HTTP)
}


def check_scope(scopes: frozenset[str], action: str) -> None:
    """Raises unless a request holding `scopes` may do `action` (a frame type, or an HTTP
    endpoint's name)."""
    needed = "write" if action in WRITES else "read"
    if needed not in scopes:
        raise Forbidden(
            gettext("This token may not %(action)s: it lacks the %(scope)s scope.")
            % {"action": action, "scope": needed}
        )


def until_text(until: datetime | None) -> str:
    return f"until {until.isoformat(timespec='minutes')}" if until else "until lifted"


def check_may_open(user: AbstractBaseUser, room: Room) -> None:
    check_not_banned(RoomBan.objects.active().filter(room=room, user=user).first())


def check_not_banned(ban: RoomBan | None) -> None:
    """`ban`: the user's ban from the room in force now, if any."""
    if ban is not None:
        raise Forbidden(
            gettext("You are banned from this room until %(until)s.")
            % {"until": ban.until.isoformat(timespec="minutes")}
            if ban.until
            else gettext("You are banned from this room until the ban is lifted.")
        )


@dataclass(frozen=True)
class Writer:
    """What deciding on a write needs about its author in a room, read in one query by the
    caller (chat.messages) under the room's lock: their rank, membership, whether a ban or a
    mute is in force, and when their slow-mode interval started."""

    rank: Rank
    member: bool
    banned: bool
    muted: bool
    last_write: datetime | None


def check_may_write(user: AbstractBaseUser, room: Room, writer: Writer) -> None:
    """The rules of posting, for every kind of write in a room: a message, an edit, a reaction,
    an upload. `room` must be fresh (the locked row). Only a refusal reads the sanction again,
    for its end."""
    if writer.banned:
        check_may_open(user, room)
    if not writer.member:
        raise Forbidden(gettext("You are not a member of this room."))
    moderator = writer.rank >= Rank.MODERATOR
    if room.posting == Room.Posting.MODERATORS and not moderator:
        raise Forbidden(gettext("Only moderators may post in this room."))
    if writer.muted:
        mute = Mute.objects.active().filter(room=room, user=user).first()
        if mute is not None:
            raise Muted(
                gettext("You are muted in this room until %(until)s.")
                % {"until": mute.until.isoformat(timespec="minutes")}
            )
    if room.slow_mode_seconds and not moderator and writer.last_write is not None:
        wait = room.slow_mode_seconds - (timezone.now() - writer.last_write).total_seconds()
        if wait > 0:
            raise RateLimited(
                gettext("Slow mode: one message every %(seconds)d seconds.")
                % {"seconds": room.slow_mode_seconds},
                retry_after=wait,
            )


def slow_mode_applies(room: Room, writer: Writer) -> bool:
    """Whether this write starts the writer's next slow-mode interval."""
    return bool(room.slow_mode_seconds) and writer.rank < Rank.MODERATOR


def blocked_between(a: AbstractBaseUser, b: AbstractBaseUser) -> bool:
    return Block.objects.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a)).exists()


def blocked_with(user: AbstractBaseUser, others: list[int]) -> set[int]:
    """Which of the users `others` (ids) block `user`, or are blocked by them."""
    pairs = Block.objects.filter(
        Q(blocker=user, blocked_id__in=others) | Q(blocked=user, blocker_id__in=others)
    ).values_list("blocker_id", "blocked_id")
    return {a if a != user.pk else b for a, b in pairs}


def check_not_blocked(user: AbstractBaseUser, room: Room) -> None:
    """In a direct room, a block either way silences both people (messages, edits, reactions,
    uploads, typing); neither learns from the refusal who blocked whom."""
    if room.kind != Room.Kind.DIRECT:
        return
    partner = Membership.objects.filter(room=room).exclude(user=user)
    if blocked_with(user, list(partner.values_list("user_id", flat=True))):
        raise Forbidden(gettext("You cannot message this user."))


def banned_user_ids(room_id: int, user_ids: list[int]) -> set[int]:
    """Which of `user_ids` a ban in force keeps out of the room: nothing of it reaches them."""
    return set(
        RoomBan.objects.active()
        .filter(room_id=room_id, user_id__in=user_ids)
        .values_list("user_id", flat=True)
    )


def banned_room_ids(user: AbstractBaseUser) -> set[int]:
    return set(RoomBan.objects.active().filter(user=user).values_list("room_id", flat=True))


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern:
    # Whole words where the term starts or ends with a word character: "ass" spares "class".
    start = r"\b" if re.match(r"\w", term) else ""
    end = r"\b" if re.search(r"\w$", term) else ""
    return re.compile(start + re.escape(term) + end, re.IGNORECASE)


def filter_terms(body: str, terms: list[tuple[str, str]]) -> str:
    """Refuse a body with a blocked term, or mask the term, as each term is set in admin.
    `terms`: (term, action) pairs, read with the room's lock on every write
    (`writing.lock_for_write`), so an edit in admin holds for the next one in every process."""
    for term, action in terms:
        pattern = _term_pattern(term)
        if action == BlockedTerm.Action.REFUSE and pattern.search(body):
            raise Forbidden(gettext("That message contains a blocked term."))
        body = pattern.sub(lambda match: "*" * len(match.group()), body)
    return body


def clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise TooLong(
            gettext("A reason may be at most %(limit)d characters.") % {"limit": REASON_MAX_LENGTH}
        )
    return reason


def log(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    target: AbstractBaseUser | None = None,
    room: Room | None = None,
    message: Message | None = None,
    detail: str = "",
    reason: str = "",
) -> ModerationLog:
    """One row of the moderation log; callers write it in the act's own transaction."""
    return ModerationLog.objects.create(
        actor=actor,
        action=action,
        target=target,
        room=room,
        message=message,
        detail=detail[:200],
        reason=clean_reason(reason),
    )
