"""A page of a room's visible messages, read by one plain statement.

Every socket reads one as it opens (`ready`) and every reconnect another (`history after=`).
Through the ORM (`select_related` of the author, the author's bot row and the reply's original
with its author), compiling the query took most of the handshake's database work, even for a
room with no messages (docs/performance.md, issue 17). The rows come back as the same model
instances, their related objects cached as `select_related` caches them.
"""

import itertools

from django.contrib.auth import get_user_model
from django.db import connection

from . import rows
from .models import Bot, Message

# `bound`: how the page's ids relate to the given id.
BOUNDS = {"before": "<", "after": ">", "from": ">="}

_SQL = """
SELECT {message}, {author}, {bot}, {original}, {original_author}
FROM {message_table} m
JOIN {user_table} a ON a.id = m.author_id
LEFT JOIN {bot_table} b ON b.user_id = a.id
LEFT JOIN {message_table} o ON o.id = m.reply_to_id
LEFT JOIN {user_table} oa ON oa.id = o.author_id
WHERE m.room_id = %s AND m.deleted IS NULL{bound}
ORDER BY m.id {order}
LIMIT %s"""

# The statement per (database vendor, bound, order): the same text every time, so that
# PostgreSQL keeps its plan (chatsite/settings.py, `DATABASE_PREPARE_THRESHOLD`).
_statements: dict[tuple[str, str | None, bool], str] = {}


def read(
    room_id: int, *, bound: str | None = None, at: int | None = None, newest: bool, limit: int
) -> list[Message]:
    """Up to `limit` messages of the room whose ids are `bound` (see `BOUNDS`) `at`, the
    newest of them first if `newest`, else the oldest first, in that order."""
    key = (connection.vendor, bound, newest)
    if key not in _statements:
        _statements[key] = _statement(bound, newest)
    params = [room_id, *([at] if bound is not None else []), limit]
    with connection.cursor() as cursor:
        cursor.execute(_statements[key], params)
        found = cursor.fetchall()
    user = get_user_model()
    models = (Message, user, Bot, Message, user)
    ends = list(itertools.accumulate(rows.width(model) for model in models))
    spans = list(zip([0, *ends[:-1]], ends, strict=True))
    return [_message(user, [row[start:end] for start, end in spans]) for row in found]


def _statement(bound: str | None, newest: bool) -> str:
    user = get_user_model()
    return _SQL.format(
        message=rows.columns(Message, "m"),
        author=rows.columns(user, "a"),
        bot=rows.columns(Bot, "b"),
        original=rows.columns(Message, "o"),
        original_author=rows.columns(user, "oa"),
        message_table=Message._meta.db_table,
        user_table=user._meta.db_table,
        bot_table=Bot._meta.db_table,
        bound="" if bound is None else f" AND m.id {BOUNDS[bound]} %s",
        order="DESC" if newest else "ASC",
    )


def _message(user: type, parts: list[tuple]) -> Message:
    """One row of `_SQL`, already cut into the columns of its five models."""
    message_row, author_row, bot_row, original_row, original_author_row = parts
    message = rows.instance(Message, message_row)
    author = rows.instance(user, author_row)
    # As `select_related("author__bot")` leaves it: `hasattr(author, "bot")` says which.
    user.bot.related.set_cached_value(
        author, rows.instance(Bot, bot_row) if bot_row[0] is not None else None
    )
    Message.author.field.set_cached_value(message, author)
    original = None
    if original_row[0] is not None:
        original = rows.instance(Message, original_row)
        Message.author.field.set_cached_value(original, rows.instance(user, original_author_row))
    Message.reply_to.field.set_cached_value(message, original)
    return message
