"""Messages: posting (once per `client_id`), replies, editing, reactions, deleting, history and
read marks.

Every write happens in a transaction and is broadcast only after it commits. Posts into one
room are serialised on the room's row, so that message ids in a room grow in commit order and
a client catching up with `history after=<id>` can never skip a message committed late.

Who hears of a message beyond the room's own sockets: in a direct room both people, on their
sockets elsewhere (`notify`); in other rooms the members it mentions by `@username`.
"""

import datetime

import emoji as emojis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import broadcast, conversations, policy, protocol, richtext, rooms
from .errors import Forbidden, Invalid, NotFound, TooLong, Unauthenticated
from .models import (
    Membership,
    Mention,
    Message,
    ModerationLog,
    Mute,
    Reaction,
    Room,
    RoomBan,
)

EMOJI_MAX_LENGTH = 32
EMOJI_PER_MESSAGE = 20  # different emoji on one message
# What a message's data needs beside its row (chat.protocol.message_data).
RELATED = ("room", "author", "reply_to__author")


def clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid("A message cannot be empty.")
    if len(body) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise TooLong(f"A message may be at most {settings.CHAT_MESSAGE_MAX_LENGTH} characters.")
    if "\x00" in body:
        raise Invalid("Text may not contain NUL characters.")
    return body


def post(
    *,
    author: AbstractBaseUser,
    room: Room,
    body: str,
    client_id: str | None = None,
    reply_to: int | None = None,
) -> tuple[Message, bool]:
    """Store a message and broadcast it; a repeated `client_id` stores nothing and returns the
    original, broadcast to the room again (see `_resend`). `reply_to`: the id of a message of
    this room it answers.

    The room's rules (bans, mutes, slow mode, posting policy, blocks, blocked terms) are read
    from the locked row, so a change a moderator just made holds for sockets opened before it.
    """
    body = clean_body(body)
    with transaction.atomic():
        room, writer = _lock_for_write(author, room.pk, client_id=client_id)
        if room.existing_id is not None:
            existing = _by_client_id(author, room, client_id)
            _resend(existing)
            return existing, False
        _check_write(author, room, writer)
        body = policy.filter_terms(body)
        original = visible_message(room, reply_to) if reply_to is not None else None
        named = _named_members(room, body)
        # No other transaction can store this client_id meanwhile: it would hold the room's lock.
        message = Message.objects.create(
            room=room,
            author=author,
            body=body,
            html=richtext.render(body, named),
            client_id=client_id,
            reply_to=original,
        )
        broadcast.on_commit(
            broadcast.to_room,
            room.pk,
            protocol.message_frame(message),
            follows=room.last_message_id or 0,
            author_id=author.pk,
        )
        notify = protocol.notify_frame(message)
        for user_id in _to_notify(message, named):
            broadcast.on_commit(broadcast.to_user, user_id, notify, skip_room=room.pk)
    return message, True


_WRITING = """
SELECT r.*, a.is_active AS author_active, a.is_staff AS author_staff,
    a.is_superuser AS author_superuser, m.role AS author_role, m.last_write AS author_last_write,
    b.id AS ban_id, u.id AS mute_id, {existing} AS existing_id,
    (SELECT MAX(x.id) FROM {message} x WHERE x.room_id = r.id) AS last_message_id
FROM {room} r
LEFT JOIN {user} a ON a.id = %s
LEFT JOIN {membership} m ON m.room_id = r.id AND m.user_id = a.id
LEFT JOIN {ban} b ON b.room_id = r.id AND b.user_id = a.id AND (b.until IS NULL OR b.until > %s)
LEFT JOIN {mute} u ON u.room_id = r.id AND u.user_id = a.id AND u.until > %s
WHERE r.id = %s"""
_EXISTING = (
    "(SELECT e.id FROM {message} e WHERE e.room_id = r.id AND e.author_id = a.id"
    " AND e.client_id = %s)"
)


def _lock_for_write(
    author: AbstractBaseUser, room_id: int, *, client_id: str | None = None
) -> tuple[Room, policy.Writer]:
    """The room's row, locked (ids in a room then follow commit order, see the module
    docstring; and two writes of one author cannot both pass slow mode), with what deciding on
    a write needs from other tables, read fresh: the author's rank, ban, mute and slow-mode
    interval (`policy.Writer`); `existing_id` (a message stored before under `client_id`);
    `last_message_id` (the room's newest message: the one a new message follows, see
    `chat.fanout`).

    The lock is its own statement, taken before the reads: in PostgreSQL's READ COMMITTED a
    statement sees the database as of its start, so reads made in the statement that waited
    for the lock would miss what its previous holder committed (the message a new one
    follows, a `client_id` just stored). The reads are one statement instead of five built
    by the ORM: compiling those cost more CPU than all the rest of a post
    (docs/performance.md). SQLite has no row locks; its writers already wait for each other
    from the start of their transaction (`transaction_mode`).
    """
    if connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Room._meta.db_table} WHERE id = %s FOR UPDATE", [room_id]
            )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    tables = {
        "room": Room._meta.db_table,
        "user": get_user_model()._meta.db_table,
        "membership": Membership._meta.db_table,
        "ban": RoomBan._meta.db_table,
        "mute": Mute._meta.db_table,
        "message": Message._meta.db_table,
    }
    existing = _EXISTING.format(**tables) if client_id is not None else "NULL"
    sql = _WRITING.format(existing=existing, **tables)
    params = [*([client_id] if client_id is not None else []), author.pk, now, now, room_id]
    locked = next(iter(Room.objects.raw(sql, params)), None)
    if locked is None:
        raise NotFound("This room no longer exists.")
    if not locked.author_active:
        raise Unauthenticated("This account is no longer active.")
    last_write = locked.author_last_write
    if last_write is not None and timezone.is_naive(last_write):  # SQLite, through raw()
        last_write = timezone.make_aware(last_write, datetime.UTC)
    writer = policy.Writer(
        rank=policy.rank_of(
            is_superuser=locked.author_superuser,
            is_staff=locked.author_staff,
            role=locked.author_role,
        ),
        member=locked.author_role is not None,
        banned=locked.ban_id is not None,
        muted=locked.mute_id is not None,
        last_write=last_write,
    )
    return locked, writer


def _check_write(author: AbstractBaseUser, room: Room, writer: policy.Writer) -> None:
    """Every rule of posting, for every write: a message, an edit, a reaction."""
    policy.check_may_write(author, room, writer)
    policy.check_not_blocked(author, room)
    _start_interval(author, room, writer)


def _start_interval(author: AbstractBaseUser, room: Room, writer: policy.Writer) -> None:
    if policy.slow_mode_applies(room, writer):
        Membership.objects.filter(room=room, user=author).update(last_write=timezone.now())


def _resend(message: Message) -> None:
    """A retried send: its author never heard back, so the worker that stored it may have died
    before broadcasting it, and the room's other sockets never heard of it either (their
    `history after=<last id>` cannot see a message older than one they hold). The original goes
    to the room again; clients drop a message they already have by its id."""
    broadcast.on_commit(broadcast.to_room, message.room_id, protocol.message_frame(message))


def _by_client_id(author: AbstractBaseUser, room: Room, client_id: str) -> Message | None:
    message = (
        Message.objects.select_related(*RELATED)
        .filter(room=room, author=author, client_id=client_id)
        .first()
    )
    if message is not None and message.deleted:
        raise NotFound("That message was deleted.")
    return with_reactions([message])[0] if message is not None else None


def send_direct(
    *, author: AbstractBaseUser, to: str, body: str, client_id: str | None = None
) -> tuple[Message, bool]:
    """`dm.send`: post into the direct room of the author and `to`, creating it if need be."""
    room = rooms.direct_room(user=author, other=rooms.find_user(to))
    return post(author=author, room=room, body=body, client_id=client_id)


def _named_members(room: Room, body: str) -> dict[str, int]:
    """The members of the room the body names with `@` (username to id): marked as mentions
    in its html, and, but for its author, told."""
    names = richtext.mentioned(body)
    if not names:
        return {}  # most messages: building even an unused queryset costs more than the rest
    return dict(
        Membership.objects.filter(room=room, user__username__in=names).values_list(
            "user__username", "user_id"
        )
    )


def _mentioned(message: Message, named: dict[str, int]) -> list[int]:
    """The members a message mentions whom it may reach: not its author, nobody banned from
    the room, nobody who blocks the author or whom the author blocks. Recorded as mentions
    (unread mention counts)."""
    targets = [user_id for user_id in named.values() if user_id != message.author_id]
    if not targets or message.room.kind == Room.Kind.DIRECT:
        return []
    silenced = policy.blocked_with(message.author, targets) | policy.banned_user_ids(
        message.room_id, targets
    )
    reached = [user_id for user_id in targets if user_id not in silenced]
    Mention.objects.filter(message=message).exclude(user_id__in=reached).delete()
    Mention.objects.bulk_create(
        [Mention(message=message, user_id=user_id) for user_id in reached],
        ignore_conflicts=True,
    )
    return reached


def _to_notify(message: Message, named: dict[str, int]) -> list[int]:
    """Both people of a direct room (the author's other sockets follow the conversation too);
    elsewhere, the members mentioned (`_mentioned`). Never someone banned from the room."""
    if message.room.kind == Room.Kind.DIRECT:
        targets = list(
            Membership.objects.filter(room=message.room).values_list("user_id", flat=True)
        )
        banned = policy.banned_user_ids(message.room_id, targets)
        return [user_id for user_id in targets if user_id not in banned]
    return _mentioned(message, named)


def visible_message(room: Room, message_id: int, *, lock: bool = False) -> Message:
    """A message of this room that is not deleted, or `NotFound`; an id from another room is
    not found either."""
    messages = Message.objects.visible().select_related(*RELATED)
    if lock:
        messages = messages.select_for_update()
    message = messages.filter(pk=message_id, room=room).first()
    if message is None:
        raise NotFound("No such message in this room.")
    return message


def edit(*, actor: AbstractBaseUser, room: Room, message_id: int, body: str) -> Message:
    """Only the author rewrites a message (moderators delete, never rewrite), and only under
    every rule of posting: an edit reaches the room as a new message does. Mentions it adds
    count as unread mentions, without a notification."""
    body = clean_body(body)
    with transaction.atomic():
        room, writer = _lock_for_write(actor, room.pk)
        message = visible_message(room, message_id, lock=True)
        if message.author_id != actor.pk:
            raise Forbidden("Only its author may edit a message.")
        _check_write(actor, room, writer)
        message.body = policy.filter_terms(body)
        named = _named_members(room, message.body)
        message.html = richtext.render(message.body, named)
        message.edited = timezone.now()
        message.save(update_fields=["body", "html", "edited"])
        _mentioned(message, named)
        with_reactions([message])
        broadcast.on_commit(
            broadcast.to_room,
            room.pk,
            {"type": "message.edited", "message": protocol.message_data(message)},
        )
    return message


def clean_emoji(value: str) -> str:
    if len(value) > EMOJI_MAX_LENGTH or not emojis.is_emoji(value):
        raise Invalid("A reaction is one emoji.")
    return value


def react(
    *, user: AbstractBaseUser, room: Room, message_id: int, emoji: str, add: bool
) -> list[dict]:
    """Add or take back a reaction, under every rule of posting; the room hears the message's
    reactions (`message.reactions`). At most `EMOJI_PER_MESSAGE` different emoji a message."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        room, writer = _lock_for_write(user, room.pk)
        message = visible_message(room, message_id)
        _check_write(user, room, writer)
        mine = Reaction.objects.filter(message=message, user=user, emoji=emoji)
        if not add:
            mine.delete()
        elif not mine.exists():
            present = set(Reaction.objects.filter(message=message).values_list("emoji", flat=True))
            if emoji not in present and len(present) >= EMOJI_PER_MESSAGE:
                raise TooLong(f"A message holds at most {EMOJI_PER_MESSAGE} different emoji.")
            Reaction.objects.create(message=message, user=user, emoji=emoji)
        summary = reactions_of([message.pk]).get(message.pk, [])
        broadcast.on_commit(
            broadcast.to_room,
            room.pk,
            {"type": "message.reactions", "id": message.pk, "reactions": summary},
        )
    return summary


def reactions_of(message_ids: list[int]) -> dict[int, list[dict]]:
    """Message id to its reactions, `[{"emoji", "users": [username...]}]` in the order each
    emoji first came, for the messages that have any: one query for a page."""
    summaries: dict[int, dict[str, list[str]]] = {}
    rows = (
        Reaction.objects.filter(message_id__in=message_ids)
        .order_by("id")
        .values_list("message_id", "emoji", "user__username")
    )
    for message_id, emoji, username in rows:
        summaries.setdefault(message_id, {}).setdefault(emoji, []).append(username)
    return {
        message_id: [{"emoji": emoji, "users": users} for emoji, users in by_emoji.items()]
        for message_id, by_emoji in summaries.items()
    }


def with_reactions(messages: list[Message]) -> list[Message]:
    """The messages, each with its `reactions_summary` for `protocol.message_data`."""
    summaries = reactions_of([message.pk for message in messages]) if messages else {}
    for message in messages:
        message.reactions_summary = summaries.get(message.pk, [])
    return messages


def delete(*, actor: AbstractBaseUser, room: Room, message_id: int, reason: str = "") -> None:
    """Soft-delete, by the author or a moderator (rank read now); a moderator deleting someone
    else's message is a moderation act, logged."""
    with transaction.atomic():
        message = visible_message(room, message_id, lock=True)
        if message.author_id != actor.pk and not policy.is_moderator(actor, room):
            raise Forbidden("Only the author or a moderator may delete this message.")
        message.deleted = timezone.now()
        message.save(update_fields=["deleted"])
        if message.author_id != actor.pk:
            policy.log(
                actor=actor,
                action=ModerationLog.Action.DELETE_MESSAGE,
                target=message.author,
                room=room,
                message=message,
                detail=message.body[:200],
                reason=reason,
            )
        broadcast.on_commit(
            broadcast.to_room, room.pk, {"type": "message.deleted", "id": message.pk}
        )


def history(
    *, room: Room, before: int | None = None, after: int | None = None, limit: int = 50
) -> tuple[list[Message], bool]:
    """A page of messages, oldest first, and whether more lie beyond it in that direction."""
    if before is not None and after is not None:
        raise Invalid("Give 'before' or 'after', not both.")
    messages = Message.objects.visible().filter(room=room).select_related(*RELATED)
    if after is not None:  # after=0: from the room's first message
        page = list(messages.filter(id__gt=after).order_by("id")[: limit + 1])
        return with_reactions(page[:limit]), len(page) > limit
    if before is not None:
        messages = messages.filter(id__lt=before)
    page = list(messages.order_by("-id")[: limit + 1])
    return with_reactions(page[:limit][::-1]), len(page) > limit


def around(*, room: Room, message_id: int, limit: int = 50) -> tuple[list[Message], bool, bool]:
    """A page centred on a message (a reply's original, a search result), oldest first, and
    whether older and newer ones lie beyond it. The message need not exist any more: the page
    is what stands around its place."""
    messages = Message.objects.visible().filter(room=room).select_related(*RELATED)
    before, after = limit // 2, limit - limit // 2
    older = list(messages.filter(id__lt=message_id).order_by("-id")[: before + 1])
    newer = list(messages.filter(id__gte=message_id).order_by("id")[: after + 1])
    page = older[:before][::-1] + newer[:after]
    return with_reactions(page), len(older) > before, len(newer) > after


def mark_read(*, user: AbstractBaseUser, room: Room, message_id: int) -> None:
    """Move the read mark forward (never back) to a message of this room.

    The user's sockets hear the room's new unread count (`unread`), so badges on other tabs
    follow; in a direct room the other person sees how far they have read (`read`).
    """
    if not Message.objects.filter(room=room, pk=message_id).exists():
        raise NotFound("No such message in this room.")
    moved = (
        Membership.objects.filter(room=room, user=user)
        .filter(Q(last_read__isnull=True) | Q(last_read__lt=message_id))
        .update(last_read=message_id)
    )
    if not moved:
        return
    unread = conversations.unread_counts(user, [room.pk]).get(room.pk, 0)
    broadcast.on_commit(
        broadcast.to_user, user.pk, {"type": "unread", "room": room.slug, "unread": unread}
    )
    if room.kind == Room.Kind.DIRECT:
        broadcast.on_commit(
            broadcast.to_room, room.pk, {"type": "read", "user": user.username, "id": message_id}
        )
