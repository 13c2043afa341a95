"""Messages: posting (once per `client_id`), editing, deleting, history and read marks.

Every write happens in a transaction and is broadcast only after it commits. Posts into one
room are serialised on the room's row, so that message ids in a room grow in commit order and
a client catching up with `history after=<id>` can never skip a message committed late.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import broadcast, protocol, rooms
from .errors import Forbidden, Invalid, NotFound, TooLong
from .models import Membership, Message, Room


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
    *, author: AbstractBaseUser, room: Room, body: str, client_id: str | None = None
) -> tuple[Message, bool]:
    """Store a message and broadcast it; a repeated `client_id` returns the original, unsent."""
    body = clean_body(body)
    with transaction.atomic():
        # Lock the room's row: ids in a room then follow commit order (see the module docstring).
        Room.objects.select_for_update().filter(pk=room.pk).first()
        if not Membership.objects.filter(room=room, user=author).exists():
            raise Forbidden("You are not a member of this room.")
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    room=room, author=author, body=body, client_id=client_id
                )
        except IntegrityError:
            if client_id is None:
                raise
            message = _by_client_id(author, room, client_id)
            if message.deleted:
                raise NotFound("That message was deleted.") from None
            return message, False
        broadcast.to_room_on_commit(room.pk, protocol.message_frame(message))
    return message, True


def _by_client_id(author: AbstractBaseUser, room: Room, client_id: str) -> Message:
    return Message.objects.select_related("room", "author").get(
        room=room, author=author, client_id=client_id
    )


def _editable(actor: AbstractBaseUser, room: Room, message_id: int) -> Message:
    message = (
        Message.objects.visible()
        .select_related("room", "author")
        .select_for_update()
        .filter(pk=message_id, room=room)
        .first()
    )
    if message is None:
        raise NotFound("No such message in this room.")
    if message.author_id != actor.pk and not rooms.is_moderator(actor, room):
        raise Forbidden("Only the author or a moderator may change this message.")
    return message


def edit(*, actor: AbstractBaseUser, room: Room, message_id: int, body: str) -> Message:
    body = clean_body(body)
    with transaction.atomic():
        message = _editable(actor, room, message_id)
        message.body = body
        message.edited = timezone.now()
        message.save(update_fields=["body", "edited"])
        broadcast.to_room_on_commit(
            room.pk, {"type": "message.edited", "message": protocol.message_data(message)}
        )
    return message


def delete(*, actor: AbstractBaseUser, room: Room, message_id: int) -> None:
    with transaction.atomic():
        message = _editable(actor, room, message_id)
        message.deleted = timezone.now()
        message.save(update_fields=["deleted"])
        broadcast.to_room_on_commit(room.pk, {"type": "message.deleted", "id": message.pk})


def history(
    *, room: Room, before: int | None = None, after: int | None = None, limit: int = 50
) -> tuple[list[Message], bool]:
    """A page of messages, oldest first, and whether more lie beyond it in that direction."""
    if before is not None and after is not None:
        raise Invalid("Give 'before' or 'after', not both.")
    messages = Message.objects.visible().filter(room=room).select_related("room", "author")
    if after is not None:
        page = list(messages.filter(id__gt=after).order_by("id")[: limit + 1])
        return page[:limit], len(page) > limit
    if before is not None:
        messages = messages.filter(id__lt=before)
    page = list(messages.order_by("-id")[: limit + 1])
    return page[:limit][::-1], len(page) > limit


def mark_read(*, user: AbstractBaseUser, room: Room, message_id: int) -> None:
    """Move the read mark forward (never back) to a message of this room."""
    if not Message.objects.filter(room=room, pk=message_id).exists():
        raise NotFound("No such message in this room.")
    Membership.objects.filter(room=room, user=user).filter(
        Q(last_read__isnull=True) | Q(last_read__lt=message_id)
    ).update(last_read=message_id)
