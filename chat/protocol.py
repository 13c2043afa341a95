"""The wire format in one place: reading client frames and building server frames.

Parsing checks shape only (is it a JSON object, are the fields of the right type); what a
frame may do is for the services to decide. Every way a frame can be malformed ends in `Invalid`
so that the consumer answers an `error` frame instead of dying with close code 1011.
"""

import json
from typing import Any

from . import attachments, richtext
from .errors import ChatError, Invalid, TooLong
from .models import Attachment, Message, Room

MAX_FRAME_CHARS = 64 * 1024
MAX_DEPTH = 4
MAX_ID = 2**63 - 1
MAX_LIMIT = 100
MAX_CLIENT_ID = 64
MAX_REF = 64
MAX_ATTACHMENTS = 10
# Bytes of messages in one frame (`ready`, `history`). Daphne refuses to send a frame over its
# --websocket-max-message-size (256 KiB) as it refuses to receive one, and 100 long messages
# (4,000 Chinese characters are 12 KB) would pass it: a page holds what fits, and says
# `has_more`, so that a client pages on.
MESSAGES_BUDGET = 128 * 1024


def _refuse_constant(name: str) -> None:
    raise Invalid(f"{name} is not allowed in a frame.")


def _check_values(value: Any, depth: int = 0) -> None:
    """Refuse deep nesting and strings the database cannot hold (NUL, lone surrogates)."""
    if depth > MAX_DEPTH:
        raise Invalid("The frame is nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid("Text may not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("Text may not contain lone surrogates.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, depth + 1)
            _check_values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, depth + 1)


def parse_object(text: str, what: str = "frame") -> dict[str, Any]:
    """One JSON object (a frame, or an API request's body), checked for what the database
    cannot hold and what no client needs: `Invalid`, or `TooLong` past `MAX_FRAME_CHARS`."""
    if len(text) > MAX_FRAME_CHARS:
        raise TooLong(f"A {what} may be at most {MAX_FRAME_CHARS} characters.")
    if not text.strip():
        raise Invalid(f"The {what} is empty.")
    try:
        frame = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Invalid(f"The {what} is nested too deeply.") from None
    except ValueError:
        raise Invalid(f"The {what} is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise Invalid(f"A {what} must be a JSON object.")
    _check_values(frame)
    return frame


def parse(text: str | None) -> dict[str, Any]:
    """Turn one WebSocket text frame into a dict with a string `type`, or raise `Invalid`."""
    if text is None:
        raise Invalid("Frames must be JSON text, not binary.")
    frame = parse_object(text)
    if not isinstance(frame.get("type"), str):
        raise Invalid("A frame needs a string 'type'.")
    return frame


def id_list_field(frame: dict[str, Any], name: str, *, max_items: int) -> list[str]:
    """A list of string ids (upload ids), empty when left out."""
    value = frame.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, str) and len(item) <= 64 for item in value
    ):
        raise Invalid(f"'{name}' must be a list of ids.")
    if len(value) > max_items:
        raise TooLong(f"'{name}' may hold at most {max_items} ids.")
    return value


def ref_of(frame: dict[str, Any]) -> str | None:
    """The frame's `ref`, which its answer carries back; `Invalid` for one that is not a string
    of at most `MAX_REF` characters (its error then carries none)."""
    ref = frame.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF):
        frame.pop("ref")
        raise Invalid(f"'ref' must be a string of at most {MAX_REF} characters.")
    return ref


def text_field(frame: dict[str, Any], name: str, *, max_length: int | None = None) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be a string.")
    if max_length is not None and len(value) > max_length:
        raise TooLong(f"'{name}' may be at most {max_length} characters.")
    return value


def optional_text_field(frame: dict[str, Any], name: str, *, max_length: int) -> str | None:
    if frame.get(name) is None:
        return None
    return text_field(frame, name, max_length=max_length)


def _to_id(value: Any, name: str, *, zero: bool = False) -> int:
    lowest = 0 if zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= MAX_ID:
        raise Invalid(f"'{name}' must be a positive integer id.")
    return value


def id_field(frame: dict[str, Any], name: str) -> int:
    return _to_id(frame.get(name), name)


def optional_id_field(frame: dict[str, Any], name: str, *, zero: bool = False) -> int | None:
    """`zero`: 0 is allowed too, meaning "before the first" (`history after=0`)."""
    value = frame.get(name)
    return None if value is None else _to_id(value, name, zero=zero)


def limit_field(frame: dict[str, Any], default: int) -> int:
    value = frame.get("limit", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise Invalid(f"'limit' must be an integer from 1 to {MAX_LIMIT}.")
    return value


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def attachment_data(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": attachments.url(attachment),
        "thumbnail_url": attachments.thumbnail_url(attachment),
        "width": attachment.width,
        "height": attachment.height,
    }


def _reply_data(message: Message) -> dict[str, Any] | None:
    if message.reply_to_id is None:
        return None
    original = message.reply_to
    if original is None or original.deleted is not None:
        return {"id": message.reply_to_id, "author": None, "excerpt": None}
    return {
        "id": original.pk,
        "author": original.author.username,
        "excerpt": richtext.excerpt(original.body),
    }


def message_data(message: Message) -> dict[str, Any]:
    """The message object of the contract. `reactions_summary` and `attachment_list` are set by
    the service that read the message (chat.messages.with_extras); a new message has no
    reactions."""
    return {
        "id": message.pk,
        "room": message.room.slug,
        "author": message.author.username,
        "author_bot": hasattr(message.author, "bot"),
        "body": message.body,
        "html": message.html,
        "created": _iso(message.created),
        "edited": _iso(message.edited),
        "client_id": message.client_id,
        "reply_to": _reply_data(message),
        "attachments": [
            attachment_data(attachment) for attachment in getattr(message, "attachment_list", ())
        ],
        "reactions": getattr(message, "reactions_summary", []),
    }


def fit_messages(messages: list[Message], *, keep: str) -> tuple[list[dict[str, Any]], int, int]:
    """The data of as many of `messages` (oldest first) as fit in `MESSAGES_BUDGET`, kept from
    the `"newest"` end (a page back in time, the latest), the `"oldest"` (a page forward,
    catching up) or the `"middle"` (a page around a message); and how many were left out at
    the older and at the newer end."""
    data = [message_data(m) for m in messages]
    sizes = [len(encode(item).encode()) + 1 for item in data]
    low, high, used = 0, len(data), sum(sizes)
    while used > MESSAGES_BUDGET and high - low > 1:
        older = keep == "newest" or (keep == "middle" and low < len(data) - high)
        if older:
            used -= sizes[low]
            low += 1
        else:
            high -= 1
            used -= sizes[high]
    return data[low:high], low, len(data) - high


def room_data(room: Room) -> dict[str, Any]:
    return {
        "slug": room.slug,
        "name": room.name,
        "kind": room.kind,
        "topic": room.topic,
        "slow_mode": room.slow_mode_seconds,
        "posting": room.posting,
    }


def conversation_frame(room: Room, title: str) -> dict[str, Any]:
    """For the user's other sockets: they now belong to `room` (`title`: its name, or in a
    direct room the other person's)."""
    return {"type": "conversation", "room": room_data(room), "title": title}


def conversation_removed_frame(room: Room) -> dict[str, Any]:
    return {"type": "conversation.removed", "room": room.slug}


def message_frame(message: Message) -> dict[str, Any]:
    return {"type": "message", "message": message_data(message)}


def notify_frame(message: Message) -> dict[str, Any]:
    """A message that concerns someone whose socket is on another room (or on no room)."""
    return {
        "type": "notify",
        "room": message.room.slug,
        "room_name": message.room.name,
        "room_kind": message.room.kind,
        "message": message_data(message),
    }


def ok_frame(message_id: int | None = None) -> dict[str, Any]:
    """The answer to a frame whose effect is a change or a broadcast (sent when it has a
    `ref`): `id` names the message it concerned."""
    return {"type": "ok"} if message_id is None else {"type": "ok", "id": message_id}


def error_frame(error: ChatError, refused: dict[str, Any]) -> dict[str, Any]:
    """The answer to a refused frame. It names the refused frame's `ref` and `client_id`, when
    they were valid, so a client knows which of its requests and pending sends failed."""
    frame: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
    ref = refused.get("ref")
    if isinstance(ref, str) and len(ref) <= MAX_REF:
        frame["ref"] = ref
    if error.retry_after is not None:
        frame["retry_after"] = round(error.retry_after, 3)
    client_id = refused.get("client_id")
    if isinstance(client_id, str) and len(client_id) <= MAX_CLIENT_ID:
        frame["client_id"] = client_id
    return frame
