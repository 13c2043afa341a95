"""One exception per error the chat can answer, carrying its wire code, close code and HTTP status.

Services raise these; the consumer turns them into `error` frames or close codes and the views
into HTTP responses, so that a rule reads the same from every entry point.

A message is translated when the error is made, in the language active then: the request's on
pages and the API, English on sockets (whose clients translate by `code`). It is kept as a
plain `str` so that a socket's JSON frame can carry it.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ChatError(Exception):
    code = "invalid"
    http_status = 400
    close_code = 4400
    default_message = _("That request is not valid.")

    def __init__(
        self, message: str | Promise | None = None, *, retry_after: float | None = None
    ) -> None:
        self.message = str(message or self.default_message)
        self.retry_after = retry_after
        super().__init__(self.message)


class Invalid(ChatError):
    pass


class UnknownType(ChatError):
    code = "unknown_type"
    default_message = _("Unknown frame type.")


class TooLong(ChatError):
    code = "too_long"
    default_message = _("That is too long.")


class TooLarge(TooLong):
    """A file over the size limit: HTTP's 413, the wire's `too_long`."""

    http_status = 413
    default_message = _("That file is too large.")


class RateLimited(ChatError):
    code = "rate_limited"
    http_status = 429
    default_message = _("Slow down.")


class Muted(ChatError):
    code = "muted"
    http_status = 403
    default_message = _("You are muted in this room.")


class Forbidden(ChatError):
    code = "forbidden"
    http_status = 403
    close_code = 4403
    default_message = _("You may not do that here.")


class NotFound(ChatError):
    code = "not_found"
    http_status = 404
    close_code = 4404
    default_message = _("No such thing.")


class Unauthenticated(ChatError):
    code = "unauthenticated"
    http_status = 401
    close_code = 4401
    default_message = _("Log in first.")


class Unavailable(ChatError):
    """A dependency (database, Redis) failed: nothing was done, and the client may retry."""

    code = "unavailable"
    http_status = 503
    # Like WebSocket's 1013 "try again later", which Daphne refuses: 4000-4999 are ours.
    close_code = 4503
    default_message = _("The server could not do that just now; try again.")
