"""Rate limits, shared by every worker through the ephemeral store.

A token bucket per user: `CHAT_RATE_MESSAGES` messages per `CHAT_RATE_PERIOD` seconds, with a
burst of the full bucket. The limit is per user, not per socket, so opening more tabs or
reconnecting to another worker buys nothing.
"""

from django.conf import settings

from .ephemeral import store
from .errors import RateLimited


async def check_message(user_id: int) -> None:
    wait = await store().take_token(
        f"rate:message:{user_id}", settings.CHAT_RATE_MESSAGES, settings.CHAT_RATE_PERIOD
    )
    if wait > 0:
        raise RateLimited("You are sending messages too fast.", retry_after=wait)
