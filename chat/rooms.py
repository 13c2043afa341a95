"""Rooms: creating them, who may open them, membership: joining, adding, leaving.

Opening a public room makes the user a member, so that read marks and unread counts have a
place to live. Private rooms are members-only; a member's role decides who moderates.
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from . import broadcast, policy, protocol, rows
from .errors import Forbidden, Invalid, NotFound, TooLong
from .models import Bot, Membership, ModerationLog, Room, RoomBan

NAME_MAX_LENGTH = 80


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid(gettext("A room needs a name."))
    if len(name) > NAME_MAX_LENGTH:
        raise TooLong(
            gettext("A room name may be at most %(limit)d characters.") % {"limit": NAME_MAX_LENGTH}
        )
    return name


def _free_slug(name: str) -> str:
    """The name's slug, or with a random suffix when that is taken: one query, however many
    rooms share the name (probing `-2`, `-3`... one by one grew with each of them)."""
    # "dm-" belongs to direct rooms, whose slugs are derived from user ids.
    base = slugify(name)[:60].strip("-") or "room"
    if base.startswith("dm-"):
        base = f"room-{base}"
    if not Room.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


def create_room(*, creator: AbstractBaseUser, name: str, kind: str, topic: str = "") -> Room:
    """A public or private room, owned by its creator. Direct rooms are made elsewhere."""
    if kind not in (Room.Kind.PUBLIC, Room.Kind.PRIVATE):
        raise Invalid(gettext("A room is public or private."))
    name = clean_name(name)
    for _ in range(5):
        try:
            with transaction.atomic():
                room = Room.objects.create(
                    slug=_free_slug(name), name=name, kind=kind, topic=topic, created_by=creator
                )
                Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
                return room
        except IntegrityError:
            continue  # another request took the slug between the check and the insert
    raise Invalid(gettext("Could not find a free address for that room; try another name."))


def find_user(username: str) -> AbstractBaseUser:
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise NotFound(gettext("No user called “%(name)s”.") % {"name": username.strip()})
    return user


def direct_slug(a: AbstractBaseUser, b: AbstractBaseUser) -> str:
    """The one address of a pair's conversation; its uniqueness makes the pair's room unique."""
    low, high = sorted((a.pk, b.pk))
    return f"dm-{low}-{high}"


def direct_room(*, user: AbstractBaseUser, other: AbstractBaseUser) -> Room:
    """The direct room of two people, created with both as members on first use."""
    if other.pk == user.pk:
        raise Invalid(gettext("You cannot send yourself a direct message."))
    if policy.blocked_between(user, other):
        raise Forbidden(gettext("You cannot message this user."))
    first, second = sorted((user, other), key=lambda u: u.pk)
    with transaction.atomic():
        room, created = Room.objects.get_or_create(
            slug=direct_slug(user, other),
            defaults={
                "name": f"{first.username} & {second.username}",
                "kind": Room.Kind.DIRECT,
                "created_by": user,
            },
        )
        if created:
            Membership.objects.bulk_create(
                [Membership(room=room, user=first), Membership(room=room, user=second)]
            )
            joined(first.pk, room, second.username)
            joined(second.pk, room, first.username)
    return room


def direct_partner(room: Room, user: AbstractBaseUser) -> str | None:
    return (
        Membership.objects.filter(room=room)
        .exclude(user=user)
        .values_list("user__username", flat=True)
        .first()
    )


def title_for(room: Room, user: AbstractBaseUser) -> str:
    if room.kind == Room.Kind.DIRECT:
        return direct_partner(room, user) or room.name
    return room.name


def get_room(slug: str) -> Room:
    try:
        return Room.objects.get(slug=slug)
    except Room.DoesNotExist:
        raise NotFound(gettext("No such room.")) from None


_OPENING = """
SELECT {room}, {membership}, {ban} FROM {room_table} r
LEFT JOIN {membership_table} m ON m.room_id = r.id AND m.user_id = %s
LEFT JOIN {ban_table} b ON b.room_id = r.id AND b.user_id = %s AND (b.until IS NULL OR b.until > %s)
WHERE r.slug = %s"""


def open_room(*, user: AbstractBaseUser, slug: str) -> tuple[Room, Membership]:
    """The room if the user may open it, joining public rooms on first visit."""
    # The room, the membership and a ban in force in one statement, by plain SQL: every
    # socket opens a room this way (docs/performance.md, issue 17).
    sql = _OPENING.format(
        room=rows.columns(Room, "r"),
        membership=rows.columns(Membership, "m"),
        ban=rows.columns(RoomBan, "b"),
        room_table=Room._meta.db_table,
        membership_table=Membership._meta.db_table,
        ban_table=RoomBan._meta.db_table,
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, now, slug])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(gettext("No such room."))
    room_end = rows.width(Room)
    member_end = room_end + rows.width(Membership)
    room = rows.instance(Room, row[:room_end])
    member = None
    if row[room_end] is not None:
        member = rows.instance(Membership, row[room_end:member_end])
        member.room = room
    policy.check_not_banned(rows.instance(RoomBan, row[member_end:]) if row[member_end] else None)
    if member is None:
        if room.kind != Room.Kind.PUBLIC:
            raise Forbidden(gettext("This room is for its members only."))
        member = Membership(room=room, user=user)
        if rows.insert(member, unless_exists=("room", "user")):
            announce_members(room.pk)
            joined(user.pk, room, room.name)
        else:  # another socket of theirs joined meanwhile
            member = Membership.objects.get(room=room, user=user)
    return room, member


def add_member(*, actor: AbstractBaseUser, room: Room, username: str) -> Membership:
    """An owner or moderator adds someone to a public or private room; it is logged."""
    policy.check_may_add_member(actor, room)
    user = find_user(username)
    with transaction.atomic():
        member, created = Membership.objects.get_or_create(room=room, user=user)
        if created:
            policy.log(actor=actor, action=ModerationLog.Action.ADD_MEMBER, target=user, room=room)
            announce_members(room.pk)
            joined(user.pk, room, room.name)
    return member


def joined(user_id: int, room: Room, title: str) -> None:
    """Tell the user's sockets, after commit, that they belong to `room` now: their sidebars
    list it, and they hear its activity."""
    broadcast.on_commit(
        broadcast.conversation, user_id, room.pk, protocol.conversation_frame(room, title)
    )


def left(user_id: int, room: Room) -> None:
    broadcast.on_commit(
        broadcast.conversation, user_id, room.pk, protocol.conversation_removed_frame(room)
    )


def leave_room(*, user: AbstractBaseUser, room: Room) -> None:
    """Leave a public or private room: its sockets of mine close (4403, for this room only).
    The last owner stays: a room needs someone to run it (staff can hand it over)."""
    if room.kind == Room.Kind.DIRECT:
        raise Forbidden(gettext("A direct conversation cannot be left; block the person instead."))
    with transaction.atomic():
        member = Membership.objects.select_for_update().filter(room=room, user=user).first()
        if member is None:
            raise NotFound(gettext("You are not a member of this room."))
        if (
            member.role == Membership.Role.OWNER
            and not Membership.objects.filter(room=room, role=Membership.Role.OWNER)
            .exclude(pk=member.pk)
            .exists()
        ):
            raise Forbidden(
                gettext("You own this room: ask staff to hand it over before you leave.")
            )
        member.delete()  # chat.signals closes the sockets and announces the members


def members(room_id: int) -> dict[str, list[str]]:
    """The room's members, and which of them are bots (the interface marks them): for `ready`
    and `members` frames."""
    # One query for both lists, by plain SQL: compiling the ORM's cost more than running it.
    sql = (
        f"SELECT u.username, b.user_id FROM {Membership._meta.db_table} m"
        f" JOIN {get_user_model()._meta.db_table} u ON u.id = m.user_id"
        f" LEFT JOIN {Bot._meta.db_table} b ON b.user_id = u.id"
        " WHERE m.room_id = %s ORDER BY u.username"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [room_id])
        rows = cursor.fetchall()
    return {
        "members": [name for name, _ in rows],
        "bots": [name for name, owner in rows if owner is not None],
    }


def announce_members(room_id: int) -> None:
    broadcast.on_commit(broadcast.to_room, room_id, {"type": "members", **members(room_id)})


def watched_room_ids(user: AbstractBaseUser) -> list[int]:
    """The rooms whose new messages the user's sockets hear of: theirs, but those they are
    banned from. Plain SQL: every socket reads this when it opens."""
    sql = (
        f"SELECT m.room_id FROM {Membership._meta.db_table} m WHERE m.user_id = %s"
        f" AND NOT EXISTS (SELECT 1 FROM {RoomBan._meta.db_table} b WHERE b.room_id = m.room_id"
        " AND b.user_id = m.user_id AND (b.until IS NULL OR b.until > %s))"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, now])
        return [room_id for (room_id,) in cursor.fetchall()]
