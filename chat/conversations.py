"""The conversation list: my rooms and direct conversations with their unread and mention counts,
and the public rooms I have not joined.

What the sidebar of every page shows at first, and what `GET /api/rooms/` answers (a client
asks again after each reconnect); sockets then keep it live (`activity`, `notify`, `unread`,
`conversation`). Rooms I am banned from are left out and count nothing: nothing of them
reaches me.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from . import policy
from .models import Membership, Mention, Message, Room

# Public rooms one has not joined are listed a page at a time: anyone may create rooms.
DISCOVER_PAGE = 50


@dataclass(frozen=True)
class Conversation:
    slug: str
    name: str
    kind: str
    topic: str
    title: str  # the room's name, or for a direct room the other person's username
    unread: int
    mentions: int  # unread messages that mention me; in a direct room, every unread one
    joined: bool
    last_id: int | None  # the room's newest message

    def data(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "topic": self.topic,
            "title": self.title,
            "unread": self.unread,
            "mentions": self.mentions,
            "joined": self.joined,
            "last_id": self.last_id,
        }


def _after_my_read_mark(user: AbstractBaseUser, path: str = "") -> Q:
    """Messages (reached by `path`) after my read mark in their room, not mine, not deleted."""
    return Q(
        **{
            f"{path}room__memberships__user": user,
            f"{path}id__gt": Coalesce(F(f"{path}room__memberships__last_read"), 0),
            f"{path}deleted__isnull": True,
        }
    ) & ~Q(**{f"{path}author": user})


def unread_counts(user: AbstractBaseUser, room_ids: list[int] | None = None) -> dict[int, int]:
    """Room id to the number of others' visible messages after my read mark, where nonzero."""
    messages = Message.objects.filter(_after_my_read_mark(user))
    if room_ids is not None:
        messages = messages.filter(room_id__in=room_ids)
    banned = policy.banned_room_ids(user)
    if banned:
        messages = messages.exclude(room_id__in=banned)
    return dict(messages.values_list("room").annotate(n=Count("id")))


def mention_counts(user: AbstractBaseUser) -> dict[int, int]:
    """Room id to the number of unread messages that mention me, where nonzero."""
    mentions = Mention.objects.filter(Q(user=user) & _after_my_read_mark(user, "message__"))
    return dict(mentions.values_list("message__room").annotate(n=Count("id")))


def _annotated(rooms: QuerySet, user: AbstractBaseUser) -> QuerySet:
    last = Message.objects.visible().filter(room=OuterRef("pk")).order_by("-id")
    partner = Membership.objects.filter(room=OuterRef("pk")).exclude(user=user)
    return rooms.annotate(
        last_id=Subquery(last.values("id")[:1]),
        partner=Subquery(partner.values("user__username")[:1]),
    )


def _conversation(room: Room, unread: int, mentions: int, joined: bool) -> Conversation:
    direct = room.kind == Room.Kind.DIRECT
    return Conversation(
        slug=room.slug,
        name=room.name,
        kind=room.kind,
        topic=room.topic,
        title=(room.partner or room.name) if direct else room.name,
        unread=unread,
        mentions=unread if direct else mentions,
        joined=joined,
        last_id=room.last_id,
    )


def mine(user: AbstractBaseUser) -> list[Conversation]:
    """The rooms I belong to: public and private by name, then direct ones, newest first."""
    unread = unread_counts(user)
    mentions = mention_counts(user)
    banned = policy.banned_room_ids(user)
    rooms = _annotated(Room.objects.filter(memberships__user=user).exclude(pk__in=banned), user)
    entries = [
        _conversation(room, unread.get(room.pk, 0), mentions.get(room.pk, 0), True)
        for room in rooms.order_by("name")
    ]
    direct = [entry for entry in entries if entry.kind == Room.Kind.DIRECT]
    direct.sort(key=lambda entry: entry.last_id or 0, reverse=True)
    return [entry for entry in entries if entry.kind != Room.Kind.DIRECT] + direct


def _others(user: AbstractBaseUser) -> QuerySet:
    return (
        Room.objects.filter(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user=user)
        .exclude(pk__in=policy.banned_room_ids(user))
        .order_by("name", "pk")
    )


def discover(user: AbstractBaseUser, *, page: int | str = 1) -> Page:
    """A page of the public rooms I have not joined (opening one joins it)."""
    found = Paginator(_annotated(_others(user), user), DISCOVER_PAGE).get_page(page)
    found.object_list = [_conversation(room, 0, 0, False) for room in found.object_list]
    return found


def listing(user: AbstractBaseUser) -> list[Conversation]:
    """`GET /api/rooms/`: my rooms, then the public rooms I have not joined."""
    others = _annotated(_others(user), user)
    return mine(user) + [_conversation(room, 0, 0, False) for room in others]


def total_unread(conversations: list[Conversation]) -> int:
    return sum(entry.unread for entry in conversations)
