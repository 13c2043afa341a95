"""What the chat stores. Rules about who may do what live in the service modules."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public")
        PRIVATE = "private", _("Private")
        DIRECT = "direct", _("Direct")

    class Posting(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        MODERATORS = "moderators", _("Moderators only (announcements)")

    slug = models.SlugField(_("address"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    # Seconds a member must wait between two messages; 0 is off. Moderators are exempt.
    slow_mode_seconds = models.PositiveIntegerField(_("slow mode (seconds)"), default=0)
    posting = models.CharField(
        _("who can post"), max_length=12, choices=Posting.choices, default=Posting.EVERYONE
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MODERATOR = "moderator", _("Moderator")
        MEMBER = "member", _("Member")

    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined = models.DateTimeField(_("joined"), default=timezone.now)
    # The id of the newest message this member has read; unread counts start after it.
    last_read = models.BigIntegerField(_("last read message"), null=True, blank=True)
    # When this member's last write (message, edit, reaction, upload) started a slow-mode
    # interval; set only while the room is in slow mode.
    last_write = models.DateTimeField(_("last write"), null=True, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_once_per_room")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room} ({self.role})"


class MessageQuerySet(models.QuerySet):
    def visible(self) -> "MessageQuerySet":
        return self.filter(deleted__isnull=True)


class Message(models.Model):
    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    body = models.TextField(_("text"))
    # The body rendered from Markdown, sanitised (chat.richtext): what clients show.
    html = models.TextField(_("HTML"), blank=True, default="")
    reply_to = models.ForeignKey(
        "self",
        verbose_name=_("reply to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Chosen by the sending client so that a retried send is stored once; NULL, not "", means
    # none, so the unique constraint below skips messages without one.
    client_id = models.CharField(  # noqa: DJ001 (NULL = none)
        _("client id"), max_length=64, null=True, blank=True
    )
    created = models.DateTimeField(_("sent"), default=timezone.now)
    edited = models.DateTimeField(_("edited"), null=True, blank=True)
    # Deleted messages are kept for the moderators' record but never served again.
    deleted = models.DateTimeField(_("deleted"), null=True, blank=True)
    # What search finds it by (chat.search.index_text): indexed by PostgreSQL's full text search
    # or SQLite's FTS5, as the migrations set up; emptied when the message is deleted.
    search_text = models.TextField(_("search text"), blank=True, default="")

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_client_id_once",
            )
        ]
        indexes = [models.Index(fields=["room", "id"], name="message_room_id")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.author} in {self.room}: {self.body[:40]}"


def _attachment_id() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: not guessable


class Attachment(models.Model):
    """A file uploaded into a room, then attached to one message of its uploader's there. Its
    content type is sniffed from the bytes, never taken from the client."""

    id = models.CharField(
        _("id"), primary_key=True, max_length=32, default=_attachment_id, editable=False
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploader"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    name = models.CharField(_("file name"), max_length=200)  # the original name, made safe to show
    size = models.PositiveBigIntegerField(
        _("size (bytes)"),
    )
    content_type = models.CharField(_("content type"), max_length=100)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    file = models.FileField(_("file"), upload_to="attachments/", max_length=200)
    thumbnail = models.FileField(
        _("thumbnail"), upload_to="thumbnails/", max_length=200, blank=True
    )
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    created = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created"]
        indexes = [models.Index(fields=["message"], name="attachment_message")]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes) in {self.room}"


class Reaction(models.Model):
    """`user` reacted to `message` with `emoji` (one grapheme); once per person and emoji."""

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="reactions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="reactions",
    )
    emoji = models.CharField(_("emoji"), max_length=32)
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="reaction_once_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.emoji} on #{self.message_id}"


class Mention(models.Model):
    """`message` names `user`, a member of its room, with `@`: what unread mention counts
    count."""

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="mentions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="mentions",
    )

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="mention_once_per_person")
        ]
        indexes = [models.Index(fields=["user", "message"], name="mention_user_message")]

    def __str__(self) -> str:
        return f"#{self.message_id} mentions {self.user}"


class Bot(models.Model):
    """`user` is a bot account, made and run by `owner`: it has no password and acts only
    through API tokens."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="bot",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="bots",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("bot")
        verbose_name_plural = _("bots")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} (bot of {self.owner})"


class ApiToken(models.Model):
    """A credential for `user` (a person, or a bot) with `scopes`. Only a digest of the secret
    is kept, with a short prefix of it to find the row and for people to recognise it by."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True)
    digest = models.CharField(
        _("digest"), max_length=64, unique=True
    )  # SHA-256 of the whole token, hex
    scope = models.CharField(_("scope"), max_length=5, choices=Scope.choices, default=Scope.READ)
    created = models.DateTimeField(_("created"), default=timezone.now)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"


class Block(models.Model):
    """`blocker` wants no direct messages with `blocked`, in either direction."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("blocked by"),
        on_delete=models.CASCADE,
        related_name="blocks_made",
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("blocked user"),
        on_delete=models.CASCADE,
        related_name="blocks_received",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(
                condition=~Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.blocker} blocks {self.blocked}"


class ActiveQuerySet(models.QuerySet):
    def active(self) -> "ActiveQuerySet":
        """In force now: no end time, or one still ahead."""
        return self.filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))


class Sanction(models.Model):
    """What bans and mutes share: a moderator holds `user` back in `room` until `until`.

    One per person and room; imposing it again replaces it.
    """

    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="%(class)ss"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="%(class)ss",
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imposed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    objects = ActiveQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="%(class)s_once_per_room")
        ]


class RoomBan(Sanction):
    """Keeps `user` out of `room` until `until` (for good when empty)."""

    until = models.DateTimeField(
        _("until"), null=True, blank=True, help_text=_("Empty: until lifted.")
    )

    class Meta:
        verbose_name = _("room ban")
        verbose_name_plural = _("room bans")

    def __str__(self) -> str:
        return f"{self.user} banned from {self.room}"


class Mute(Sanction):
    """`user` may read `room` but not post in it until `until`."""

    until = models.DateTimeField(
        _("until"),
    )

    class Meta:
        verbose_name = _("mute")
        verbose_name_plural = _("mutes")

    def __str__(self) -> str:
        return f"{self.user} muted in {self.room}"


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        on_delete=models.CASCADE,
        related_name="reports_made",
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "created"], name="report_queue")]
        # Reporting a message again changes nothing: one voice per person.
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="report_once_per_reporter")
        ]

    def __str__(self) -> str:
        return f"Report #{self.pk} on message #{self.message_id}"


class ModerationLog(models.Model):
    """Who did what to whom, where, why and when. Written by chat.moderation, never edited."""

    class Action(models.TextChoices):
        BAN = "ban", _("Ban")
        UNBAN = "unban", _("Unban")
        MUTE = "mute", _("Mute")
        UNMUTE = "unmute", _("Unmute")
        DELETE_MESSAGE = "delete_message", _("Delete message")
        DEACTIVATE = "deactivate", _("Deactivate account")
        REACTIVATE = "reactivate", _("Reactivate account")
        SLOW_MODE = "slow_mode", _("Set slow mode")
        POSTING = "posting", _("Set posting policy")
        TOPIC = "topic", _("Set topic")
        ROLE = "role", _("Set role")
        ADD_MEMBER = "add_member", _("Add member")
        REMOVE_MEMBER = "remove_member", _("Remove member")
        DISMISS_REPORT = "dismiss_report", _("Dismiss report")
        STAFF = "staff", _("Set staff status")
        DELETE_ACCOUNT = "delete_account", _("Delete account")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("target"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    room = models.ForeignKey(
        Room,
        verbose_name=_("room"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_log",
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    detail = models.CharField(_("details"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("moderation log entry")
        verbose_name_plural = _("moderation log")

    def __str__(self) -> str:
        return f"{self.actor} {self.get_action_display().lower()} {self.target or ''}".strip()


class BlockedTerm(models.Model):
    class Action(models.TextChoices):
        REFUSE = "refuse", _("Refuse the message")
        MASK = "mask", _("Mask the term with ***")

    term = models.CharField(_("term"), max_length=100, unique=True)
    action = models.CharField(
        _("action"), max_length=6, choices=Action.choices, default=Action.REFUSE
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("blocked term")
        verbose_name_plural = _("blocked terms")
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term
