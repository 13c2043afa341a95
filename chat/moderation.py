"""Moderation acts: bans, mutes, slow mode, posting policy, roles, members, accounts, reports.
(Adding a member, an act too, is `chat.rooms.add_member`, beside joining and leaving.)

One service for every entry point: Django admin (`save_model`, `delete_model`, actions), the
room settings page of owners and moderators, and socket frames. Each act asks `chat.policy`
whether the actor may (rank read fresh), writes one `ModerationLog` row in the same
transaction, and broadcasts its effect on live sockets only after the transaction commits.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from . import broadcast, messages, policy, protocol, rooms, writing
from .errors import Forbidden, Invalid, NotFound, TooLong, Unauthenticated
from .models import Membership, ModerationLog, Mute, Report, Room, RoomBan, Sanction

Action = ModerationLog.Action
SLOW_MODE_MAX_SECONDS = 6 * 3600
RECONNECT_CLOSE_CODE = 4000  # rights changed: the client reconnects at once, with them


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
    """Impose, or replace, a sanction; replacing one undoes its imposer's act."""
    reason = policy.clean_reason(reason)
    with transaction.atomic():
        existing = model.objects.select_for_update().filter(room=room, user=user).first()
        policy.check_may_sanction(actor, user, room, existing)
        made, _ = model.objects.update_or_create(
            room=room,
            user=user,
            defaults={
                "until": until,
                "reason": reason,
                "created_by": actor,
                "created": timezone.now(),
            },
        )
        policy.log(
            actor=actor,
            action=action,
            target=user,
            room=room,
            detail=policy.until_text(until),
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
    """Nobody lifts a sanction on themselves, on a superior, or one a superior imposed."""
    with transaction.atomic():
        sanction = model.objects.select_for_update().filter(room=room, user=user).first()
        policy.check_may_sanction(actor, user, room, sanction)
        if sanction is None:
            return
        sanction.delete()
        policy.log(actor=actor, action=action, target=user, room=room, reason=reason)


def ban(
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    until: datetime | None = None,
    reason: str = "",
) -> RoomBan:
    """Ban from a room: its sockets there close with 4403; reconnecting fails until it ends,
    and nothing of the room reaches them meanwhile (no mention, no unread count)."""
    with transaction.atomic():
        made = _impose(
            RoomBan, Action.BAN, actor=actor, room=room, user=user, until=until, reason=reason
        )
        broadcast.on_commit(
            broadcast.close_user_sockets, user.pk, Forbidden.close_code, room_id=room.pk
        )
        rooms.left(user.pk, room)
    return made


def unban(*, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, reason: str = "") -> None:
    """The room comes back to a member's sidebar."""
    with transaction.atomic():
        _lift(RoomBan, Action.UNBAN, actor=actor, room=room, user=user, reason=reason)
        if Membership.objects.filter(room=room, user=user).exists():
            rooms.joined(user.pk, room, rooms.title_for(room, user))


def mute(
    *,
    actor: AbstractBaseUser,
    room: Room,
    user: AbstractBaseUser,
    until: datetime,
    reason: str = "",
) -> Mute:
    """Mute in a room: every write there (messages, edits, `dm.send`) answers `muted`."""
    if until <= timezone.now():
        raise Invalid(gettext("A mute must end in the future."))
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
    """Takes effect on open sockets at once: writes read the room's row fresh."""
    policy.require_moderator(actor, room)
    if not 0 <= seconds <= SLOW_MODE_MAX_SECONDS:
        raise Invalid(
            gettext("Slow mode is 0 (off) to %(limit)d seconds.") % {"limit": SLOW_MODE_MAX_SECONDS}
        )
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(slow_mode_seconds=seconds)
        room.slow_mode_seconds = seconds
        policy.log(
            actor=actor,
            action=Action.SLOW_MODE,
            room=room,
            detail=f"{seconds} s" if seconds else "off",
            reason=reason,
        )
        _room_changed(room)


def set_posting(*, actor: AbstractBaseUser, room: Room, posting: str, reason: str = "") -> None:
    policy.require_moderator(actor, room)
    if posting not in Room.Posting.values:
        raise Invalid(gettext("Posting is 'everyone' or 'moderators'."))
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(posting=posting)
        room.posting = posting
        policy.log(actor=actor, action=Action.POSTING, room=room, detail=posting, reason=reason)
        _room_changed(room)


def set_topic(*, actor: AbstractBaseUser, room: Room, topic: str) -> None:
    policy.require_moderator(actor, room)
    topic = " ".join(topic.split())
    if len(topic) > 200:
        raise TooLong(gettext("A topic may be at most 200 characters."))
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(topic=topic)
        room.topic = topic
        policy.log(actor=actor, action=Action.TOPIC, room=room, detail=topic[:200])
        _room_changed(room)


def set_role(*, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, role: str) -> None:
    """The owner (or staff) names moderators; only staff hand over ownership."""
    policy.check_may_set_role(actor, user, room, role)
    with transaction.atomic():
        if not Membership.objects.filter(room=room, user=user).update(role=role):
            raise NotFound(
                gettext("%(name)s is not a member of this room.") % {"name": user.username}
            )
        policy.log(actor=actor, action=Action.ROLE, target=user, room=room, detail=role)


def remove_member(
    *, actor: AbstractBaseUser, room: Room, user: AbstractBaseUser, reason: str = ""
) -> None:
    """Out of a room: their sockets on it close with 4403 (chat.signals)."""
    policy.check_may_remove(actor, user, room)
    with transaction.atomic():
        if Membership.objects.filter(room=room, user=user).delete()[0]:
            policy.log(
                actor=actor, action=Action.REMOVE_MEMBER, target=user, room=room, reason=reason
            )


def set_active(
    *, actor: AbstractBaseUser, user: AbstractBaseUser, active: bool, reason: str = ""
) -> None:
    """Deactivating an account closes every socket of it, on every worker, with 4401
    (chat.signals sees the change, whichever path made it)."""
    policy.check_may_act(actor, user, None)
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=active)
        user.is_active = active
        policy.log(
            actor=actor,
            action=Action.REACTIVATE if active else Action.DEACTIVATE,
            target=user,
            reason=reason,
        )
        if not active:
            broadcast.on_commit(broadcast.close_user_sockets, user.pk, Unauthenticated.close_code)


def set_staff(
    *, actor: AbstractBaseUser, user: AbstractBaseUser, is_staff: bool, is_superuser: bool
) -> None:
    """Granting or withdrawing staff rights: only a superuser, on someone below them. The
    user's sockets reconnect (`RECONNECT_CLOSE_CODE`), though rank is read fresh for every
    act anyway."""
    policy.check_may_set_staff(actor, user)
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_staff=is_staff, is_superuser=is_superuser)
        user.is_staff, user.is_superuser = is_staff, is_superuser
        detail = "superuser" if is_superuser else "staff" if is_staff else "no staff rights"
        policy.log(actor=actor, action=Action.STAFF, target=user, detail=detail)
        broadcast.on_commit(broadcast.close_user_sockets, user.pk, RECONNECT_CLOSE_CODE)


def delete_account(*, actor: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> None:
    """Staff delete an account below their rank; its sockets close with 4401 (chat.signals)."""
    policy.check_may_act(actor, user, None)
    with transaction.atomic():
        policy.log(
            actor=actor,
            action=Action.DELETE_ACCOUNT,
            target=user,
            detail=user.get_username(),
            reason=reason,
        )
        user.delete()


# Reports.


def report(*, reporter: AbstractBaseUser, room: Room, message_id: int, reason: str = "") -> Report:
    """A report for the moderators; reporting the same message again changes nothing."""
    reason = policy.clean_reason(reason)
    message = writing.visible_message(room, message_id)
    made, _ = Report.objects.get_or_create(
        message=message, reporter=reporter, defaults={"reason": reason}
    )
    return made


RESOLUTIONS = ("delete", "delete_ban", "mute_1h", "mute_24h", "dismiss")


def resolve_report(*, actor: AbstractBaseUser, report: Report, resolution: str) -> None:
    """Act on a report; every open report of the same message shares the outcome."""
    if resolution not in RESOLUTIONS:
        raise Invalid(
            gettext("A resolution is one of %(choices)s.") % {"choices": ", ".join(RESOLUTIONS)}
        )
    message = report.message
    room = message.room
    policy.require_moderator(actor, room)
    reason = (f"report #{report.pk}" + (f": {report.reason}" if report.reason else ""))[
        : policy.REASON_MAX_LENGTH
    ]
    with transaction.atomic():
        if resolution == "dismiss":
            policy.log(
                actor=actor,
                action=Action.DISMISS_REPORT,
                target=message.author,
                room=room,
                message=message,
                reason=reason,
            )
        if resolution in ("delete", "delete_ban") and message.deleted is None:
            messages.delete(actor=actor, room=room, message_id=message.pk, reason=reason)
        if resolution == "delete_ban":
            ban(actor=actor, room=room, user=message.author, reason=reason)
        if resolution.startswith("mute_"):
            hours = int(resolution.removeprefix("mute_").removesuffix("h"))
            mute(
                actor=actor,
                room=room,
                user=message.author,
                until=timezone.now() + timedelta(hours=hours),
                reason=reason,
            )
        Report.objects.filter(message=message, status=Report.Status.OPEN).update(
            status=Report.Status.DISMISSED if resolution == "dismiss" else Report.Status.RESOLVED,
            handled_by=actor,
            handled_at=timezone.now(),
        )
