"""Rate limits, shared by every worker through the ephemeral store.

A token bucket per user and kind of act (`CHAT_RATE_LIMITS`: a burst, and the seconds in which
a whole burst comes back). Every act that costs the server work has one: messages, edits,
reactions, uploads, reports, history pages, searches, opening sockets, creating rooms; sign-ups
have one per address. The limit is per user, not per socket, so more tabs or another worker buy
nothing.
"""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .ephemeral import store
from .errors import RateLimited

REFUSALS = {
    "message": _("You are sending messages too fast."),
    "edit": _("You are editing too fast."),
    "reaction": _("You are reacting too fast."),
    "upload": _("You are uploading too fast."),
    "report": _("You are reporting too often; the moderators have your reports."),
    "history": _("You are loading history too fast."),
    "search": _("You are searching too fast."),
    "connect": _("You are opening connections too fast."),
    "room": _("You are creating rooms too fast."),
    "signup": _("Too many sign-ups from your address; try again later."),
}


async def check(kind: str, who: int | str) -> None:
    """Take a token from `who`'s bucket for `kind`, or raise `RateLimited` with the wait."""
    burst, period = settings.CHAT_RATE_LIMITS[kind]
    wait = await store().take_token(f"rate:{kind}:{who}", burst, period)
    if wait > 0:
        raise RateLimited(REFUSALS[kind], retry_after=wait)


# For views and other synchronous callers.
check_sync = async_to_sync(check)
