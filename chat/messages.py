"""Messages: posting (once per `client_id`), replies, editing, deleting, history and read marks.

Every write happens in a transaction and is broadcast only after it commits. Posts into one
room are serialised on the room's row, so that message ids in a room grow in commit order and
a client catching up with `history after=<id>` can never skip a message committed late.

Who hears of a message beyond the room's own sockets: in a direct room both people, on their
sockets elsewhere (`notify`); in other rooms the members it mentions by `@username`.
"""

import functools
from collections.abc import Awaitable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from . import attachments as chat_attachments
from . import (
    broadcast,
    conversations,
    pages,
    policy,
    protocol,
    reactions,
    richtext,
    rooms,
    rows,
    search,
    writing,
)
from .errors import ChatError, Forbidden, Invalid, NotFound, TooLong
from .models import (
    Attachment,
    Membership,
    Mention,
    Message,
    ModerationLog,
    Room,
)


def clean_body(body: str, *, empty: bool = False) -> str:
    """`empty`: a message of files may have no text."""
    body = body.strip()
    if not body and not empty:
        raise Invalid(gettext("A message cannot be empty."))
    if len(body) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise TooLong(
            gettext("A message may be at most %(limit)d characters.")
            % {"limit": settings.CHAT_MESSAGE_MAX_LENGTH}
        )
    if "\x00" in body:
        raise Invalid(gettext("Text may not contain NUL characters."))
    return body


def post(
    *,
    author: AbstractBaseUser,
    room: Room,
    body: str,
    client_id: str | None = None,
    reply_to: int | None = None,
    attachments: list[str] = (),
) -> tuple[Message, bool]:
    """Store a message and broadcast it; a repeated `client_id` stores nothing and returns the
    original, broadcast to the room again (see `_resend`). `reply_to`: the id of a message of
    this room it answers; `attachments`: ids of the author's uploads in this room (then the
    body may be empty).

    The room's rules (bans, mutes, slow mode, posting policy, blocks, blocked terms) are read
    from the locked row, so a change a moderator just made holds for sockets opened before it.
    """
    body = clean_body(body, empty=bool(attachments))
    prepared = _prepare(body)
    early = room.kind != Room.Kind.DIRECT and reply_to is None and not attachments
    if early and prepared is not None:
        message = _post_decided_early(author, room.pk, body, client_id, prepared)
        if message is not None:
            return message, True
    with transaction.atomic():
        room, writer = writing.lock_for_write(author, room.pk, client_id=client_id)
        if room.existing_id is not None:
            existing = _by_client_id(author, room, client_id)
            _resend(existing)
            return existing, False
        writing.check_write(author, room, writer)
        filtered = policy.filter_terms(body, room.blocked_terms)
        original = writing.visible_message(room, reply_to) if reply_to is not None else None
        files = chat_attachments.claim(author=author, room=room, ids=list(attachments))
        if prepared is not None and filtered == body:
            named, (html, search_text) = {}, prepared
        else:
            named = _named_members(room, filtered)
            html, search_text = richtext.render(filtered, named), search.index_text(filtered)
        # No other transaction can store this client_id meanwhile: it would hold the room's lock.
        message = Message(
            room=room,
            author=author,
            body=filtered,
            html=html,
            search_text=search_text,
            client_id=client_id,
            reply_to=original,
        )
        rows.insert(message)
        if files:
            Attachment.objects.filter(pk__in=[file.pk for file in files]).update(message=message)
        message.attachment_list = files
        broadcast.on_commit(_announce, message, follows=room.last_message_id or 0)
        told = _to_notify(message, named)
        if told:
            notify = protocol.notify_frame(message)
            for user_id in told:
                broadcast.on_commit(broadcast.to_user, user_id, notify, skip_room=room.pk)
    return message, True


def _announce(message: Message, *, follows: int) -> Awaitable[None]:
    """A new message to its room. Its frame is made once the transaction committed, so not
    while the room's lock is held."""
    return broadcast.to_room(
        message.room_id,
        protocol.message_frame(message),
        follows=follows,
        author_id=message.author_id,
    )


@functools.cache
def _insert_if_unchanged(guard: str) -> str:
    """The early post's statement around `writing.current_state`'s text, which is one of two
    (with or without a `client_id`): built once, not for every message (1.5% to 2.3% of a
    worker's time in B's profiles, mostly Django working out each column's cast)."""
    casts = ", ".join(
        f"CAST(%s AS {field.cast_db_type(connection)})" for field in rows.new_fields(Message)
    )
    return (
        f"WITH s AS ({guard}), stored AS"
        f" (INSERT INTO {Message._meta.db_table} ({rows.new_columns(Message)})"
        f" SELECT {casts} FROM s WHERE s.state = %s RETURNING id)"
        " SELECT (SELECT id FROM stored), s.last_message_id FROM s"
    )


def _post_decided_early(
    author: AbstractBaseUser,
    room_id: int,
    body: str,
    client_id: str | None,
    prepared: tuple[str, str],
) -> Message | None:
    """On PostgreSQL, a plain message (no reply, no files, nobody named) in a room that is not
    a direct one (the caller skips this read for a direct room, whose messages never come this
    way) and has no slow mode for its author: decided on before the room's lock, then
    stored under it in one statement, which inserts only if nothing the decision read has
    changed meanwhile (`writing.current_state`). The lock is then held for that statement and
    COMMIT alone, where the usual way holds it for three round trips; that time bounds the
    messages a second one room can take (docs/performance.md, "One hot room").

    None: not stored this way; the caller posts the usual way, under the lock, reading
    everything again, so that a refusal, a repeated `client_id` or a change made meanwhile
    is decided on fresh data there (tests/test_post_races.py).
    """
    if connection.vendor != "postgresql":
        return None
    try:
        room, writer = writing.read_for_write(author, room_id, client_id=client_id)
        if (
            room.existing_id is not None
            or room.kind == Room.Kind.DIRECT  # as read now, should an admin have changed it
            or policy.slow_mode_applies(room, writer)
        ):
            return None
        writing.check_write(author, room, writer, counts=False)
        if policy.filter_terms(body, room.blocked_terms) != body:
            return None
    except ChatError:
        return None
    html, search_text = prepared
    message = Message(
        room=room,
        author=author,
        body=body,
        html=html,
        search_text=search_text,
        client_id=client_id,
    )
    guard, params = writing.current_state(author, room_id, client_id=client_id)
    sql = _insert_if_unchanged(guard)
    with transaction.atomic():
        writing.lock(room_id)
        message.created = timezone.now()  # under the lock, as the usual way: in id order
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *rows.new_values(message), room.state])
            row = cursor.fetchone()
        if row is None or row[0] is None:
            return None  # changed meanwhile, or gone: nothing was stored
        rows.stored(message, row[0])
        message.attachment_list = []
        broadcast.on_commit(_announce, message, follows=row[1] or 0)
    return message


def _prepare(body: str) -> tuple[str, str] | None:
    """The html and search text of a body that names nobody, made before the room's lock,
    which the room's next post waits for (rendering was most of the time it was held,
    docs/performance.md). They are made again under the lock only where a blocked term
    changed the body. A body naming members is rendered under the lock, with the members
    read there."""
    if richtext.mentioned(body):
        return None
    return richtext.render(body), search.index_text(body)


def _resend(message: Message) -> None:
    """A retried send: its author never heard back, so the worker that stored it may have died
    before broadcasting it, and the room's other sockets never heard of it either (their
    `history after=<last id>` cannot see a message older than one they hold). The original goes
    to the room again; clients drop a message they already have by its id."""
    broadcast.on_commit(broadcast.to_room, message.room_id, protocol.message_frame(message))


def _by_client_id(author: AbstractBaseUser, room: Room, client_id: str) -> Message | None:
    message = (
        Message.objects.select_related(*writing.RELATED)
        .filter(room=room, author=author, client_id=client_id)
        .first()
    )
    if message is not None and message.deleted:
        raise NotFound(gettext("That message was deleted."))
    return with_extras([message])[0] if message is not None else None


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


def edit(*, actor: AbstractBaseUser, room: Room, message_id: int, body: str) -> Message:
    """Only the author rewrites a message (moderators delete, never rewrite), and only under
    every rule of posting: an edit reaches the room as a new message does. Mentions it adds
    count as unread mentions, without a notification."""
    body = clean_body(body)
    with transaction.atomic():
        room, writer = writing.lock_for_write(actor, room.pk)
        message = writing.visible_message(room, message_id, lock=True)
        if message.author_id != actor.pk:
            raise Forbidden(gettext("Only its author may edit a message."))
        writing.check_write(actor, room, writer)
        message.body = policy.filter_terms(body, room.blocked_terms)
        named = _named_members(room, message.body)
        message.html = richtext.render(message.body, named)
        message.search_text = search.index_text(message.body)
        message.edited = timezone.now()
        message.save(update_fields=["body", "html", "search_text", "edited"])
        _mentioned(message, named)
        with_extras([message])
        broadcast.on_commit(
            broadcast.to_room,
            room.pk,
            {"type": "message.edited", "message": protocol.message_data(message)},
        )
    return message


def delete(*, actor: AbstractBaseUser, room: Room, message_id: int, reason: str = "") -> None:
    """Soft-delete, by the author or a moderator (rank read now); a moderator deleting someone
    else's message is a moderation act, logged."""
    with transaction.atomic():
        message = writing.visible_message(room, message_id, lock=True)
        if message.author_id != actor.pk and not policy.is_moderator(actor, room):
            raise Forbidden(gettext("Only the author or a moderator may delete this message."))
        message.deleted = timezone.now()
        message.search_text = ""  # found no more
        message.save(update_fields=["deleted", "search_text"])
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
        raise Invalid(gettext("Give 'before' or 'after', not both."))
    if after is not None:  # after=0: from the room's first message
        page = pages.read(room.pk, bound="after", at=after, newest=False, limit=limit + 1)
        return with_extras(page[:limit], room), len(page) > limit
    bound = "before" if before is not None else None
    page = pages.read(room.pk, bound=bound, at=before, newest=True, limit=limit + 1)
    return with_extras(page[:limit][::-1], room), len(page) > limit


def around(*, room: Room, message_id: int, limit: int = 50) -> tuple[list[Message], bool, bool]:
    """A page centred on a message (a reply's original, a search result), oldest first, and
    whether older and newer ones lie beyond it. The message need not exist any more: the page
    is what stands around its place."""
    before, after = limit // 2, limit - limit // 2
    older = pages.read(room.pk, bound="before", at=message_id, newest=True, limit=before + 1)
    newer = pages.read(room.pk, bound="from", at=message_id, newest=False, limit=after + 1)
    page = older[:before][::-1] + newer[:after]
    return with_extras(page, room), len(older) > before, len(newer) > after


def mark_read(*, user: AbstractBaseUser, room: Room, message_id: int) -> None:
    """Move the read mark forward (never back) to a message of this room.

    The user's sockets hear the room's new unread count (`unread`), so badges on other tabs
    follow; in a direct room the other person sees how far they have read (`read`).
    """
    if not Message.objects.filter(room=room, pk=message_id).exists():
        raise NotFound(gettext("No such message in this room."))
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


def with_extras(messages: list[Message], room: Room | None = None) -> list[Message]:
    """The messages, each with what `protocol.message_data` reads beside its row: its
    reactions (`reactions_summary`) and files (`attachment_list`). Two queries for a page.
    `room`: theirs, when they were read without it (chat.pages)."""
    ids = [message.pk for message in messages]
    found = reactions.summaries(ids)
    files = chat_attachments.of_messages(ids)
    for message in messages:
        message.reactions_summary = found.get(message.pk, [])
        message.attachment_list = files.get(message.pk, [])
        if room is not None:
            message.room = room
    return messages
