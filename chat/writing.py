"""What every write in a room asks first: the room's lock and the writer's standing, read in one
statement, then the rules of posting (chat.policy); and the messages a write may touch.

Messages, edits, reactions and uploads all come through here, so that every rule of
`message.send` holds for each of them (contract v2).
"""

import datetime
import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext

from . import policy, rows
from .errors import NotFound, Unauthenticated
from .models import BlockedTerm, Membership, Message, Mute, Room, RoomBan

# What a message's data needs beside its row (chat.protocol.message_data); a page of one
# room's messages reads the same by plain SQL (chat.pages).
RELATED = ("room", "author", "author__bot", "reply_to__author")

_FROM = """
FROM {room} r
LEFT JOIN {user} a ON a.id = %s
LEFT JOIN {membership} m ON m.room_id = r.id AND m.user_id = a.id
LEFT JOIN {ban} b ON b.room_id = r.id AND b.user_id = a.id AND (b.until IS NULL OR b.until > %s)
LEFT JOIN {mute} u ON u.room_id = r.id AND u.user_id = a.id AND u.until > %s
WHERE r.id = %s"""
_WRITING = """
SELECT {room_columns}, a.is_active AS author_active, a.is_staff AS author_staff,
    a.is_superuser AS author_superuser, m.role AS author_role, m.last_write AS author_last_write,
    b.id AS ban_id, u.id AS mute_id, {existing} AS existing_id,
    {last_message} AS last_message_id, {terms} AS blocked_terms, {state} AS state"""
# The room's newest message: the one a new message follows (chat.fanout).
_LAST_MESSAGE = "(SELECT MAX(x.id) FROM {message} x WHERE x.room_id = r.id)"
# Everything a decision on a write reads, as one digest (PostgreSQL only; see `current_state`).
_STATE = (
    "md5(ROW({room_columns}, a.is_active, a.is_staff, a.is_superuser, m.role, m.last_write,"
    " b.id, u.id, {existing}, {terms})::text)"
)
_ROOM_WIDTH = rows.width(Room)  # the room's own columns come first in the row
# The blocked terms as a JSON list of [term, action], in the same statement.
_TERMS = {
    "postgresql": "(SELECT json_agg(json_build_array(t.term, t.action) ORDER BY t.term)"
    " FROM {terms} t)",
    "sqlite": "(SELECT json_group_array(json_array(t.term, t.action))"
    " FROM (SELECT term, action FROM {terms} ORDER BY term) t)",
}
_EXISTING = (
    "(SELECT e.id FROM {message} e WHERE e.room_id = r.id AND e.author_id = a.id"
    " AND e.client_id = %s)"
)


def _parts(author: AbstractBaseUser, room_id: int, client_id: str | None) -> tuple[dict, list]:
    """The pieces of `_WRITING` and `current_state`, and the parameters of their FROM."""
    tables = {
        "room": Room._meta.db_table,
        "user": get_user_model()._meta.db_table,
        "membership": Membership._meta.db_table,
        "ban": RoomBan._meta.db_table,
        "mute": Mute._meta.db_table,
        "message": Message._meta.db_table,
    }
    parts = {
        **tables,
        "existing": _EXISTING.format(**tables) if client_id is not None else "NULL",
        "terms": _TERMS[connection.vendor].format(terms=BlockedTerm._meta.db_table),
        "room_columns": rows.columns(Room, "r"),
        "last_message": _LAST_MESSAGE.format(**tables),
    }
    parts["state"] = _STATE.format(**parts) if connection.vendor == "postgresql" else "NULL"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return parts, [author.pk, now, now, room_id]


def lock(room_id: int) -> None:
    """The room's row lock, held to the end of the transaction: ids in a room then follow
    commit order (see the module docstring of chat.messages), and two writes of one author
    cannot both pass slow mode. SQLite has no row locks; its writers already wait for each
    other from the start of their transaction (`transaction_mode`)."""
    if connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Room._meta.db_table} WHERE id = %s FOR UPDATE", [room_id]
            )


def lock_for_write(
    author: AbstractBaseUser, room_id: int, *, client_id: str | None = None
) -> tuple[Room, policy.Writer]:
    """The room's row, locked (`lock`), with what deciding on a write needs, read fresh
    after the lock (`read_for_write`).

    The lock is its own statement, taken before the reads: in PostgreSQL's READ COMMITTED a
    statement sees the database as of its start, so reads made in the statement that waited
    for the lock would miss what its previous holder committed (the message a new one
    follows, a `client_id` just stored).
    """
    lock(room_id)
    return read_for_write(author, room_id, client_id=client_id)


def read_for_write(
    author: AbstractBaseUser, room_id: int, *, client_id: str | None = None
) -> tuple[Room, policy.Writer]:
    """The room's row with what deciding on a write needs from other tables: the author's
    rank, ban, mute and slow-mode interval (`policy.Writer`); `existing_id` (a message stored
    before under `client_id`); `last_message_id` (the room's newest message: the one a new
    message follows, see `chat.fanout`); `blocked_terms` (`policy.filter_terms`), read on every
    write so that an edit in admin holds for the next one; `state`, a digest of all of it but
    `last_message_id` (PostgreSQL; else None), for `current_state`.

    One statement instead of five built by the ORM: compiling those cost more CPU than all
    the rest of a post (docs/performance.md).
    """
    parts, params = _parts(author, room_id, client_id)
    sql = (_WRITING + _FROM).format(**parts)
    existing = [client_id] if client_id is not None else []
    state = existing if parts["state"] != "NULL" else []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*existing, *state, *params])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(gettext("This room no longer exists."))
    # Not `Room.objects.raw()`: matching its columns to the model's fields anew for every
    # write was a third of this function's CPU (docs/performance.md, issue 17).
    room = rows.instance(Room, row[:_ROOM_WIDTH])
    (
        author_active,
        author_staff,
        author_superuser,
        author_role,
        last_write,
        ban_id,
        mute_id,
        room.existing_id,
        room.last_message_id,
        terms,
        room.state,
    ) = row[_ROOM_WIDTH:]
    terms = json.loads(terms) if isinstance(terms, str) else terms or []  # NULL for none
    room.blocked_terms = [(term, action) for term, action in terms]
    if not author_active:
        raise Unauthenticated(gettext("This account is no longer active."))
    if last_write is not None and timezone.is_naive(last_write):  # SQLite
        last_write = timezone.make_aware(last_write, datetime.UTC)
    writer = policy.Writer(
        rank=policy.rank_of(
            is_superuser=bool(author_superuser), is_staff=bool(author_staff), role=author_role
        ),
        member=author_role is not None,
        banned=ban_id is not None,
        muted=mute_id is not None,
        last_write=last_write,
    )
    return room, writer


def current_state(
    author: AbstractBaseUser, room_id: int, *, client_id: str | None = None
) -> tuple[str, list]:
    """A statement (and its parameters) that reads, as one row, the `state` digest that
    `read_for_write` gave and the room's `last_message_id` now: a write decided on an earlier
    read may go ahead, in the same statement, only where the digest is unchanged
    (chat.messages). PostgreSQL only."""
    parts, params = _parts(author, room_id, client_id)
    select = "SELECT {state} AS state, {last_message} AS last_message_id"
    existing = [client_id] if client_id is not None else []
    return (select + _FROM).format(**parts), [*existing, *params]


def check_write(
    author: AbstractBaseUser, room: Room, writer: policy.Writer, *, counts: bool = True
) -> None:
    """Every rule of posting, for every write: a message, an edit, a reaction, an upload.
    `counts`: the write starts the author's next slow-mode interval (an upload does not: the
    message it is attached to does)."""
    policy.check_may_write(author, room, writer)
    policy.check_not_blocked(author, room)
    if counts:
        _start_interval(author, room, writer)


def _start_interval(author: AbstractBaseUser, room: Room, writer: policy.Writer) -> None:
    if policy.slow_mode_applies(room, writer):
        Membership.objects.filter(room=room, user=author).update(last_write=timezone.now())


def visible_message(room: Room, message_id: int, *, lock: bool = False) -> Message:
    """A message of this room that is not deleted, or `NotFound`; an id from another room is
    not found either."""
    messages = Message.objects.visible().select_related(*RELATED)
    if lock:  # the message's row only: not the nullable rows joined to it
        messages = messages.select_for_update(of=("self",))
    message = messages.filter(pk=message_id, room=room).first()
    if message is None:
        raise NotFound(gettext("No such message in this room."))
    return message
