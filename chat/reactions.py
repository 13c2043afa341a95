"""Reactions: one emoji a person puts on a message, under every rule of posting.

`message.reactions` tells the room a message's whole list each time it changes: clients
replace theirs, so a lost frame is mended by the next, or by reading the message again.
"""

import emoji as emojis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils.translation import gettext

from . import broadcast, writing
from .errors import Invalid, TooLong
from .models import Reaction, Room

EMOJI_MAX_LENGTH = 32
EMOJI_PER_MESSAGE = 20  # different emoji on one message


def clean_emoji(value: str) -> str:
    if len(value) > EMOJI_MAX_LENGTH or not emojis.is_emoji(value):
        raise Invalid(gettext("A reaction is one emoji."))
    return value


def react(
    *, user: AbstractBaseUser, room: Room, message_id: int, emoji: str, add: bool
) -> list[dict]:
    """Add or take back a reaction, under every rule of posting; the room hears the message's
    reactions (`message.reactions`). At most `EMOJI_PER_MESSAGE` different emoji a message."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        room, writer = writing.lock_for_write(user, room.pk)
        message = writing.visible_message(room, message_id)
        writing.check_write(user, room, writer)
        mine = Reaction.objects.filter(message=message, user=user, emoji=emoji)
        if not add:
            mine.delete()
        elif not mine.exists():
            present = set(Reaction.objects.filter(message=message).values_list("emoji", flat=True))
            if emoji not in present and len(present) >= EMOJI_PER_MESSAGE:
                raise TooLong(
                    gettext("A message holds at most %(limit)d different emoji.")
                    % {"limit": EMOJI_PER_MESSAGE}
                )
            Reaction.objects.create(message=message, user=user, emoji=emoji)
        summary = summaries([message.pk]).get(message.pk, [])
        broadcast.on_commit(
            broadcast.to_room,
            room.pk,
            {"type": "message.reactions", "id": message.pk, "reactions": summary},
        )
    return summary


def summaries(message_ids: list[int]) -> dict[int, list[dict]]:
    """Message id to its reactions, `[{"emoji", "users": [username...]}]` in the order each
    emoji first came, for the messages that have any: one query for a page."""
    if not message_ids:
        return {}
    summaries: dict[int, dict[str, list[str]]] = {}
    # Plain SQL: compiling the ORM's query cost more than running it (every `ready` and page).
    sql = (
        f"SELECT r.message_id, r.emoji, u.username FROM {Reaction._meta.db_table} r"
        f" JOIN {get_user_model()._meta.db_table} u ON u.id = r.user_id"
        f" WHERE r.message_id IN ({', '.join(['%s'] * len(message_ids))}) ORDER BY r.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(message_id) for message_id in message_ids])
        rows = cursor.fetchall()
    for message_id, emoji, username in rows:
        summaries.setdefault(message_id, {}).setdefault(emoji, []).append(username)
    return {
        message_id: [{"emoji": emoji, "users": users} for emoji, users in by_emoji.items()]
        for message_id, by_emoji in summaries.items()
    }
