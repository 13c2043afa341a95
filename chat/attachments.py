"""Files: uploaded into a room (over HTTP, or as binary socket frames through chat.uploads),
attached by id to a message of their uploader's, and served only to who may open the room now.

Upload first, attach by id, check access on every download, as Zulip and Mattermost learned to.
An upload passes the rules of posting when it starts and when it is recorded. Its type is
sniffed from its bytes (Pillow for images, puremagic for the rest), never the client's word;
only PNG, JPEG, GIF and WebP are shown inline, everything else (SVG and HTML included) is a
download. Images get a thumbnail, EXIF orientation applied and metadata stripped, under a pixel
limit against decompression bombs. The work with the bytes (`prepare`) runs in a worker thread,
never on the event loop nor in the one database thread; only `record` touches the database.
"""

import hashlib
import io
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import quote

import puremagic
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from PIL import Image, ImageOps

from . import policy, writing
from .errors import Forbidden, Invalid, NotFound, TooLarge, TooLong
from .models import Attachment, Message, Room

INLINE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
THUMBNAIL_SIZE = (480, 480)
NAME_MAX_LENGTH = 200
PER_MESSAGE = 10
HASH_BLOCK = 1 << 20


def max_bytes() -> int:
    return settings.CHAT_UPLOAD_MAX_BYTES


def safe_name(name: str) -> str:
    """A file name fit to show and to send back in a header: no directories, no control or
    format characters (NUL, a right-to-left override), at most `NAME_MAX_LENGTH` characters."""
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(
        char for char in unicodedata.normalize("NFC", name) if unicodedata.category(char)[0] != "C"
    )
    name = " ".join(name.split()).strip(". ")
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        keep = NAME_MAX_LENGTH - len(dot + extension)
        name = (
            (stem[:keep] + dot + extension)
            if dot and len(extension) < 16
            else name[:NAME_MAX_LENGTH]
        )
    return name or "file"


def check_size(size: int) -> None:
    if size <= 0:
        raise Invalid(gettext("The file is empty."))
    if size > max_bytes():
        raise TooLarge(
            gettext("A file may be at most %(limit)d MiB.")
            % {"limit": max_bytes() // (1024 * 1024)}
        )


def check_may_upload(user: AbstractBaseUser, room: Room) -> None:
    """The rules of posting (membership, ban, mute, posting policy, slow mode, blocks), read
    fresh under the room's lock; an upload does not start a slow-mode interval, the message it
    is attached to does."""
    with transaction.atomic():
        room, writer = writing.lock_for_write(user, room.pk)
        writing.check_write(user, room, writer, counts=False)


@dataclass
class Prepared:
    """An upload's bytes, stored and described, not yet recorded."""

    name: str
    size: int
    content_type: str
    sha256: str
    path: str
    thumbnail_path: str
    width: int | None
    height: int | None

    def discard(self) -> None:
        for path in (self.path, self.thumbnail_path):
            if path:
                default_storage.delete(path)


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(HASH_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _image(stream: BinaryIO) -> tuple[str, int, int, bytes] | None:
    """For PNG, JPEG, GIF and WebP: the content type, the size as shown (EXIF orientation
    applied), and a thumbnail without metadata. None for anything else. A decompression bomb
    (more than `CHAT_IMAGE_MAX_PIXELS`) is refused."""
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            if image.format not in INLINE_TYPES:
                return None
            if image.width * image.height > settings.CHAT_IMAGE_MAX_PIXELS:
                raise Invalid(gettext("That image has too many pixels."))
            image.seek(0)
            shown = ImageOps.exif_transpose(image)
            thumbnail = shown.convert("RGBA" if "A" in shown.getbands() else "RGB")
            thumbnail.thumbnail(THUMBNAIL_SIZE)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(gettext("That image has too many pixels.")) from None
    except (OSError, ValueError, SyntaxError):
        return None  # not an image Pillow can read: a download like any other file
    out = io.BytesIO()
    thumbnail.save(out, "WEBP", quality=80)  # a fresh image: no EXIF, no other metadata
    return INLINE_TYPES[image.format], shown.width, shown.height, out.getvalue()


def _sniff(stream: BinaryIO) -> str:
    stream.seek(0)
    head = stream.read(8192)
    try:
        guessed = puremagic.from_string(head, mime=True) if head else ""
    except puremagic.PureError:
        guessed = ""
    if guessed:
        return guessed
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not merely a character cut at the end of the head
            return "application/octet-stream"
    return "text/plain"


def prepare(*, name: str, stream: BinaryIO, declared_size: int | None = None) -> Prepared:
    """Check, describe and store an upload's bytes (in a worker thread: this reads the whole
    file and may decode an image). `declared_size`: what the client announced, which must be
    what came."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    if declared_size is not None and size != declared_size:
        raise Invalid(
            gettext("%(size)d bytes came, not the %(declared)d announced.")
            % {"size": size, "declared": declared_size}
        )
    check_size(size)
    name = safe_name(name)
    image = _image(stream)
    content_type = image[0] if image else _sniff(stream)
    digest = _sha256(stream)
    stream.seek(0)
    path = default_storage.save(f"attachments/{digest[:2]}/{digest}", File(stream))
    thumbnail_path = ""
    if image is not None:
        thumbnail_path = default_storage.save(f"thumbnails/{digest}.webp", ContentFile(image[3]))
    return Prepared(
        name=name,
        size=size,
        content_type=content_type,
        sha256=digest,
        path=path,
        thumbnail_path=thumbnail_path,
        width=image[1] if image else None,
        height=image[2] if image else None,
    )


def record(*, user: AbstractBaseUser, room: Room, prepared: Prepared) -> Attachment:
    """The upload, in the database, once the rules of posting still allow it; else its stored
    files are removed and nothing is left."""
    try:
        check_may_upload(user, room)
        return Attachment.objects.create(
            uploader=user,
            room=room,
            name=prepared.name,
            size=prepared.size,
            content_type=prepared.content_type,
            sha256=prepared.sha256,
            file=prepared.path,
            thumbnail=prepared.thumbnail_path,
            width=prepared.width,
            height=prepared.height,
        )
    except BaseException:
        prepared.discard()
        raise


def claim(*, author: AbstractBaseUser, room: Room, ids: list[str]) -> list[Attachment]:
    """For `message.send`, under the room's lock: the author's own uploads in this room, not
    attached yet, at most `PER_MESSAGE`, each once."""
    if not ids:  # most messages: even building the empty query cost a tenth of a post
        return []
    if len(ids) > PER_MESSAGE:
        raise TooLong(gettext("A message holds at most %(limit)d files.") % {"limit": PER_MESSAGE})
    if len(set(ids)) != len(ids):
        raise Invalid(gettext("A file is attached once."))
    found = {
        attachment.pk: attachment
        for attachment in Attachment.objects.select_for_update().filter(
            pk__in=ids, room=room, uploader=author, message__isnull=True
        )
    }
    if len(found) != len(ids):
        raise NotFound(gettext("No such upload of yours in this room, or it is attached already."))
    return [found[pk] for pk in ids]


def of_messages(message_ids: list[int]) -> dict[int, list[Attachment]]:
    """The files of each message of a page, in one query (plain SQL: compiling the ORM's
    cost more than running it, on every `ready` and page)."""
    if not message_ids:
        return {}
    found: dict[int, list[Attachment]] = {}
    sql = (
        f"SELECT * FROM {Attachment._meta.db_table}"
        f" WHERE message_id IN ({', '.join(['%s'] * len(message_ids))}) ORDER BY created"
    )
    for attachment in Attachment.objects.raw(sql, [int(i) for i in message_ids]):
        found.setdefault(attachment.message_id, []).append(attachment)
    return found


def url(attachment: Attachment) -> str:
    return f"/files/{attachment.pk}/{quote(attachment.name)}"


def thumbnail_url(attachment: Attachment) -> str | None:
    return f"/files/{attachment.pk}/thumbnail/" if attachment.thumbnail else None


def for_download(*, user: AbstractBaseUser, attachment_id: str) -> Attachment:
    """The file, if `user` may see it now: the uploader before it is attached; afterwards,
    whoever may open its room (a ban, a removal, a deleted message: refused). Checked on
    every download."""
    attachment = (
        Attachment.objects.select_related("room", "message").filter(pk=attachment_id).first()
    )
    if attachment is None:
        raise NotFound(gettext("No such file."))
    message: Message | None = attachment.message
    if message is None:
        if attachment.uploader_id != user.pk:
            raise NotFound(gettext("No such file."))
        return attachment
    if message.deleted is not None:
        raise NotFound(gettext("That file's message was deleted."))
    room = attachment.room
    policy.check_may_open(user, room)
    if room.kind != Room.Kind.PUBLIC and not room.memberships.filter(user=user).exists():
        raise Forbidden(gettext("This file is for the room's members only."))
    return attachment


def delete_unattached(*, older_than_hours: float) -> int:
    """Uploads never attached, older than that: their rows and files. How many."""
    since = timezone.now() - timedelta(hours=older_than_hours)
    stale = list(Attachment.objects.filter(message__isnull=True, created__lt=since))
    for attachment in stale:
        attachment.delete()  # chat.signals removes the files
    return len(stale)
