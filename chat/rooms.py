"""Rooms: creating them, who may open them, membership, and the lobby's view of them.

Opening a public room makes the user a member, so that read marks and unread counts have a
place to live. Private rooms are members-only; a member's role decides who moderates.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.text import slugify

from . import broadcast, policy
from .errors import Forbidden, Invalid, NotFound, TooLong
from .models import Membership, Message, ModerationLog, Room

NAME_MAX_LENGTH = 80
# Public rooms one has not joined are listed a page at a time: anyone may create rooms.
LOBBY_PAGE = 50


@dataclass(frozen=True)
class LobbyEntry:
    room: Room
    title: str  # the room's name, or for a direct room the other person's username
    unread: int | None  # None where the user has not joined the room
    last_id: int | None
    last_author: str | None
    last_body: str | None
    last_created: datetime | None


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("A room needs a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise TooLong(f"A room name may be at most {NAME_MAX_LENGTH} characters.")
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
        raise Invalid("A room is public or private.")
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
    raise Invalid("Could not find a free address for that room; try another name.")


def find_user(username: str) -> AbstractBaseUser:
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise NotFound(f"No user called {username.strip()!r}.")
    return user


def direct_slug(a: AbstractBaseUser, b: AbstractBaseUser) -> str:
    """The one address of a pair's conversation; its uniqueness makes the pair's room unique."""
    low, high = sorted((a.pk, b.pk))
    return f"dm-{low}-{high}"


def direct_room(*, user: AbstractBaseUser, other: AbstractBaseUser) -> Room:
    """The direct room of two people, created with both as members on first use."""
    if other.pk == user.pk:
        raise Invalid("You cannot send yourself a direct message.")
    if policy.blocked_between(user, other):
        raise Forbidden("You cannot message this user.")
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
        raise NotFound("No such room.") from None


def membership(user: AbstractBaseUser, room: Room) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def open_room(*, user: AbstractBaseUser, slug: str) -> tuple[Room, Membership]:
    """The room if the user may open it, joining public rooms on first visit."""
    room = get_room(slug)
    policy.check_may_open(user, room)
    member = membership(user, room)
    if member is None:
        if room.kind != Room.Kind.PUBLIC:
            raise Forbidden("This room is for its members only.")
        member, created = Membership.objects.get_or_create(room=room, user=user)
        if created:
            _announce_members(room)
    return room, member


def member_usernames(room_id: int) -> list[str]:
    return list(
        Membership.objects.filter(room_id=room_id)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


def add_member(*, actor: AbstractBaseUser, room: Room, username: str) -> Membership:
    """An owner or moderator adds someone to a public or private room; it is logged."""
    policy.check_may_add_member(actor, room)
    user = find_user(username)
    with transaction.atomic():
        member, created = Membership.objects.get_or_create(room=room, user=user)
        if created:
            policy.log(actor=actor, action=ModerationLog.Action.ADD_MEMBER, target=user, room=room)
            _announce_members(room)
    return member


def leave_room(*, user: AbstractBaseUser, room: Room) -> None:
    """Leave a public or private room: its sockets of mine close (4403, for this room only).
    The last owner stays: a room needs someone to run it (staff can hand it over)."""
    if room.kind == Room.Kind.DIRECT:
        raise Forbidden("A direct conversation cannot be left; block the person instead.")
    with transaction.atomic():
        member = Membership.objects.select_for_update().filter(room=room, user=user).first()
        if member is None:
            raise NotFound("You are not a member of this room.")
        if (
            member.role == Membership.Role.OWNER
            and not Membership.objects.filter(room=room, role=Membership.Role.OWNER)
            .exclude(pk=member.pk)
            .exists()
        ):
            raise Forbidden("You own this room: ask staff to hand it over before you leave.")
        member.delete()  # chat.signals closes the sockets and announces the members


def _announce_members(room: Room) -> None:
    broadcast.on_commit(
        broadcast.to_room, room.pk, {"type": "members", "members": member_usernames(room.pk)}
    )


def unread_counts(user: AbstractBaseUser, room_ids: list[int] | None = None) -> dict[int, int]:
    """Room id to the number of others' visible messages after my read mark, where nonzero.
    Rooms I am banned from count nothing: nothing of them reaches me."""
    messages = Message.objects.visible().filter(
        room__memberships__user=user,
        id__gt=Coalesce(F("room__memberships__last_read"), 0),
    )
    if room_ids is not None:
        messages = messages.filter(room_id__in=room_ids)
    banned = policy.banned_room_ids(user)
    if banned:
        messages = messages.exclude(room_id__in=banned)
    return dict(messages.exclude(author=user).values_list("room").annotate(n=Count("id")))


@dataclass(frozen=True)
class Lobby:
    public: list[LobbyEntry]  # the public rooms I joined
    discover: Page  # of LobbyEntry: public rooms I have not joined yet
    private: list[LobbyEntry]
    direct: list[LobbyEntry]  # newest first


def _with_last_message(rooms: QuerySet, user: AbstractBaseUser) -> QuerySet:
    last = Message.objects.visible().filter(room=OuterRef("pk")).order_by("-id")
    partner = Membership.objects.filter(room=OuterRef("pk")).exclude(user=user)
    return rooms.annotate(
        last_id=Subquery(last.values("id")[:1]),
        last_author=Subquery(last.values("author__username")[:1]),
        last_body=Subquery(last.values("body")[:1]),
        last_created=Subquery(last.values("created")[:1]),
        partner=Subquery(partner.values("user__username")[:1]),
    )


def _entry(room: Room, unread: int | None) -> LobbyEntry:
    return LobbyEntry(
        room=room,
        title=room.partner if room.kind == Room.Kind.DIRECT else room.name,
        unread=unread,
        last_id=room.last_id,
        last_author=room.last_author,
        last_body=room.last_body,
        last_created=room.last_created,
    )


def lobby(user: AbstractBaseUser, *, page: int | str = 1) -> Lobby:
    """My rooms with my unread counts and their last message, and a page of the public rooms
    I have not joined. Rooms I am banned from are left out."""
    unread = unread_counts(user)
    banned = policy.banned_room_ids(user)
    mine = Room.objects.filter(memberships__user=user).exclude(pk__in=banned)
    groups: dict[str, list[LobbyEntry]] = {kind: [] for kind in Room.Kind.values}
    for room in _with_last_message(mine, user).order_by("name"):
        groups[room.kind].append(_entry(room, unread.get(room.pk, 0)))
    groups[Room.Kind.DIRECT].sort(key=lambda entry: entry.last_id or 0, reverse=True)
    others = (
        Room.objects.filter(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user=user)
        .exclude(pk__in=banned)
        .order_by("name", "pk")
    )
    discover = Paginator(_with_last_message(others, user), LOBBY_PAGE).get_page(page)
    discover.object_list = [_entry(room, None) for room in discover.object_list]
    return Lobby(
        public=groups[Room.Kind.PUBLIC],
        discover=discover,
        private=groups[Room.Kind.PRIVATE],
        direct=groups[Room.Kind.DIRECT],
    )


def total_unread(user: AbstractBaseUser) -> int:
    return sum(unread_counts(user).values())
