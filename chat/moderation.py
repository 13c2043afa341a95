"""Moderation: bans, mutes, slow mode, posting policy, roles, deactivation, reports, blocked terms.

One service for every entry point: Django admin (`save_model`, `delete_model`, actions), the
room settings page of owners and moderators, and socket frames. Each act checks that the actor
may do it, writes one `ModerationLog` row in the same transaction, and broadcasts its effect on
live sockets only after the transaction commits.

Standing decides who may act on whom: a superuser outranks staff, staff outrank a room's owner,
who outranks its moderators, who outrank members. Nobody acts on an equal or a superior.
"""

import functools
import re
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from . import broadcast, messages, protocol, rooms
from .errors import Forbidden, Invalid, Muted, NotFound, RateLimited, TooLong, Unauthenticated
from .models import (
    BlockedTerm,
    Membership,
    Message,
    ModerationLog,
    Mute,
    Report,
    Room,
    RoomBan,
    Sanction,
)

Action = ModerationLog.Action
REASON_MAX_LENGTH = 500
SLOW_MODE_MAX_SECONDS = 6 * 3600
ROLE_RANK = {Membership.Role.MEMBER: 0, Membership.Role.MODERATOR: 1, Membership.Role.OWNER: 2}


def standing(user: AbstractBaseUser, room: Room | None, *, role: str | None = None) -> int:
    """`role`: the user's role in `room` when the caller has read it already."""
    if user.is_superuser:
        return 4
    if user.is_staff:
        return 3
    if room is None:
        return 0
    if role is None:
        role = (
            Membership.objects.filter(room=room, user=user).values_list("role", flat=True).first()
        )
    return ROLE_RANK.get(role, 0)


def is_moderator(user: AbstractBaseUser, room: Room) -> bool:
    """Staff, and the room's owner and moderators."""
    return standing(user, room) >= ROLE_RANK[Membership.Role.MODERATOR]


def require_moderator(actor: AbstractBaseUser, room: Room) -> None:
    if not is_moderator(actor, room):
        raise Forbidden("Only the room's moderators may do that.")


def check_may_act(actor: AbstractBaseUser, target: AbstractBaseUser, room: Room) -> None:
    """Raises unless `actor` may ban, mute, remove or re-role `target` in `room`."""
    require_moderator(actor, room)
    if actor.pk == target.pk or standing(actor, room) <= standing(target, room):
        raise Forbidden("You cannot moderate someone of equal or higher standing.")


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise TooLong(f"A reason may be at most {REASON_MAX_LENGTH} characters.")
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
    return ModerationLog.objects.create(
        actor=actor,
        action=action,
        target=target,
        room=room,
        message=message,
        detail=detail[:200],
        reason=_clean_reason(reason),
    )


def _until_text(until: datetime | None) -> str:
    return f"until {until.isoformat(timespec='minutes')}" if until else "until lifted"


# Checks that the other services make.


def check_may_open(user: AbstractBaseUser, room: Room) -> None:
    ban = RoomBan.objects.active().filter(room=room, user=user).first()
    if ban is not None:
        raise Forbidden(f"You are banned from this room {_until_text(ban.until)}.")


def check_may_post(
    user: AbstractBaseUser, room: Room, *, role: str, banned: bool, muted: bool
) -> None:
    """Bans, posting policy, mutes and slow mode, for a member of `role`. `room` must be fresh
    (the locked row); `banned` and `muted` say whether a ban or a mute was in force when it was
    read, so that only a refusal reads the sanction again (for its end)."""
    if banned:
        check_may_open(user, room)
    moderator = standing(user, room, role=role) >= ROLE_RANK[Membership.Role.MODERATOR]
    if room.posting == Room.Posting.MODERATORS and not moderator:
        raise Forbidden("Only moderators may post in this room.")
    mute = Mute.objects.active().filter(room=room, user=user).first() if muted else None
    if mute is not None:
        raise Muted(f"You are muted in this room {_until_text(mute.until)}.")
    if room.slow_mode_seconds and not moderator:
        # Deleted messages count too: deleting one's message does not buy another.
        last = (
            Message.objects.filter(room=room, author=user)
            .order_by("-id")
            .values_list("created", flat=True)
            .first()
        )
        if last is not None:
            wait = room.slow_mode_seconds - (timezone.now() - last).total_seconds()
            if wait > 0:
                raise RateLimited(
                    f"Slow mode: one message every {room.slow_mode_seconds} s.", retry_after=wait
                )


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern:
    # Whole words where the term starts or ends with a word character: "ass" spares "class".
    start = r"\b" if re.match(r"\w", term) else ""
    end = r"\b" if re.search(r"\w$", term) else ""
    return re.compile(start + re.escape(term) + end, re.IGNORECASE)


def filter_terms(body: str) -> str:
    """Refuse a body with a blocked term, or mask the term, as each term is set in admin.

    The terms are read on every message, so an edit in admin holds for the next one in every
    process; by plain SQL, as the ORM's query compiling cost more than the query (every post
    comes here)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT term, action FROM {BlockedTerm._meta.db_table} ORDER BY term")
        terms = cursor.fetchall()
    for term, action in terms:
        pattern = _term_pattern(term)
        if action == BlockedTerm.Action.REFUSE and pattern.search(body):
            raise Forbidden("That message contains a blocked term.")
        body = pattern.sub(lambda match: "*" * len(match.group()), body)
    return body


# Acts.


def _impose(
    model: type[Sanction],
    action: str,
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    until: datetime | None,
    reason: str,
) -> Sanction:
    check_may_act(actor, user, room)
    with transaction.atomic():
        made, _ = model.objects.update_or_create(
            room=room,
            user=user,
            defaults={
                "until": until,
                "reason": _clean_reason(reason),
                "created_by": actor,
                "created": timezone.now(),
            },
        )
        log(
            actor=actor,
            action=action,
            target=user,
            room=room,
            detail=_until_text(until),
            reason=reason,
        )
    return made


def _lift(
    model: type[Sanction],
    action: str,
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    reason: str,
) -> None:
    require_moderator(actor, room)
    with transaction.atomic():
        if model.objects.filter(room=room, user=user).delete()[0]:
            log(actor=actor, action=action, target=user, room=room, reason=reason)


def ban(
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    until: datetime | None = None,
    reason: str = "",
) -> RoomBan:
    """Ban from a room: its sockets there close with 4403; reconnecting fails until it ends."""
    with transaction.atomic():
        made = _impose(
            RoomBan, Action.BAN, actor=actor, room=room, user=user, until=until, reason=reason
        )
        broadcast.on_commit(
            broadcast.close_user_sockets, user.pk, Forbidden.close_code, room_id=room.pk
        )
    return made


def unban(*, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, reason: str = "") -> None:
    _lift(RoomBan, Action.UNBAN, actor=actor, room=room, user=user, reason=reason)


def mute(
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    until: datetime,
    reason: str = "",
) -> Mute:
    """Mute in a room: `message.send` and `dm.send` there answer `muted` until `until`."""
    if until <= timezone.now():
        raise Invalid("A mute must end in the future.")
    return _impose(Mute, Action.MUTE, actor=actor, room=room, user=user, until=until, reason=reason)


def unmute(
    *, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, reason: str = ""
) -> None:
    _lift(Mute, Action.UNMUTE, actor=actor, room=room, user=user, reason=reason)


def _room_changed(room: Room) -> None:
    broadcast.on_commit(
        broadcast.to_room, room.pk, {"type": "room", "room": protocol.room_data(room)}
    )


def set_slow_mode(*, actor: AbstractBaseUser, room: Room, seconds: int, reason: str = "") -> None:
    """Takes effect on open sockets at once: `messages.post` reads the room's row fresh."""
    require_moderator(actor, room)
    if not 0 <= seconds <= SLOW_MODE_MAX_SECONDS:
        raise Invalid(f"Slow mode is 0 (off) to {SLOW_MODE_MAX_SECONDS} seconds.")
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(slow_mode_seconds=seconds)
        room.slow_mode_seconds = seconds
        log(
            actor=actor,
            action=Action.SLOW_MODE,
            room=room,
            detail=f"{seconds} s" if seconds else "off",
            reason=reason,
        )
        _room_changed(room)


def set_posting(*, actor: AbstractBaseUser, room: Room, posting: str, reason: str = "") -> None:
    require_moderator(actor, room)
    if posting not in Room.Posting.values:
        raise Invalid("Posting is 'everyone' or 'moderators'.")
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(posting=posting)
        room.posting = posting
        log(actor=actor, action=Action.POSTING, room=room, detail=posting, reason=reason)
        _room_changed(room)


def set_topic(*, actor: AbstractBaseUser, room: Room, topic: str) -> None:
    require_moderator(actor, room)
    topic = " ".join(topic.split())
    if len(topic) > 200:
        raise TooLong("A topic may be at most 200 characters.")
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(topic=topic)
        room.topic = topic
        log(actor=actor, action=Action.TOPIC, room=room, detail=topic[:200])
        _room_changed(room)


def set_role(*, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, role: str) -> None:
    """The owner (or staff) names moderators; only staff hand over ownership."""
    if role not in Membership.Role.values:
        raise Invalid("A role is owner, moderator or member.")
    if standing(actor, room) < ROLE_RANK[Membership.Role.OWNER]:
        raise Forbidden("Only the room's owner may change roles.")
    if role == Membership.Role.OWNER and not actor.is_staff:
        raise Forbidden("Only staff may make someone an owner.")
    check_may_act(actor, user, room)
    with transaction.atomic():
        if not Membership.objects.filter(room=room, user=user).update(role=role):
            raise NotFound(f"{user.username} is not a member of this room.")
        log(actor=actor, action=Action.ROLE, target=user, room=room, detail=role)


def remove_member(
    *, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, reason: str = ""
) -> None:
    """Out of a private room: their sockets on it close with 4403."""
    if room.kind == Room.Kind.DIRECT:
        raise Forbidden("A direct conversation has exactly two people.")
    check_may_act(actor, user, room)
    with transaction.atomic():
        if Membership.objects.filter(room=room, user=user).delete()[0]:
            log(actor=actor, action=Action.REMOVE_MEMBER, target=user, room=room, reason=reason)
            broadcast.on_commit(
                broadcast.close_user_sockets, user.pk, Forbidden.close_code, room_id=room.pk
            )
            broadcast.on_commit(
                broadcast.to_room,
                room.pk,
                {"type": "members", "members": rooms.member_usernames(room)},
            )


def set_active(
    *, actor: AbstractBaseUser, user: AbstractBaseUser, active: bool, reason: str = ""
) -> None:
    """Deactivating an account closes every socket of it, on every worker, with 4401."""
    if not actor.is_staff:
        raise Forbidden("Only staff may deactivate accounts.")
    if actor.pk == user.pk or standing(actor, None) <= standing(user, None):
        raise Forbidden("You cannot deactivate someone of equal or higher standing.")
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=active)
        user.is_active = active
        log(
            actor=actor,
            action=Action.REACTIVATE if active else Action.DEACTIVATE,
            target=user,
            reason=reason,
        )
        if not active:
            broadcast.on_commit(broadcast.close_user_sockets, user.pk, Unauthenticated.close_code)


# Reports.


def report(*, reporter: AbstractBaseUser, room: Room, message_id: int, reason: str = "") -> Report:
    message = Message.objects.visible().filter(pk=message_id, room=room).first()
    if message is None:
        raise NotFound("No such message in this room.")
    return Report.objects.create(message=message, reporter=reporter, reason=_clean_reason(reason))


RESOLUTIONS = ("delete", "delete_ban", "mute_1h", "mute_24h", "dismiss")


def resolve_report(*, actor: AbstractBaseUser, report: Report, resolution: str) -> None:
    """Act on a report; every open report of the same message shares the outcome."""
    if resolution not in RESOLUTIONS:
        raise Invalid(f"A resolution is one of {', '.join(RESOLUTIONS)}.")
    message = report.message
    room = message.room
    require_moderator(actor, room)
    reason = f"report #{report.pk}" + (f": {report.reason}" if report.reason else "")
    with transaction.atomic():
        if resolution == "dismiss":
            log(
                actor=actor,
                action=Action.DISMISS_REPORT,
                target=message.author,
                room=room,
                message=message,
                reason=reason[:REASON_MAX_LENGTH],
            )
        if resolution in ("delete", "delete_ban") and message.deleted is None:
            messages.delete(actor=actor, room=room, message_id=message.pk, reason=reason)
        if resolution == "delete_ban":
            ban(actor=actor, room=room, user=message.author, reason=reason[:REASON_MAX_LENGTH])
        if resolution.startswith("mute_"):
            hours = int(resolution.removeprefix("mute_").removesuffix("h"))
            mute(
                actor=actor,
                room=room,
                user=message.author,
                until=timezone.now() + timedelta(hours=hours),
                reason=reason[:REASON_MAX_LENGTH],
            )
        Report.objects.filter(message=message, status=Report.Status.OPEN).update(
            status=Report.Status.DISMISSED if resolution == "dismiss" else Report.Status.RESOLVED,
            handled_by=actor,
            handled_at=timezone.now(),
        )
