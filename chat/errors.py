"""One exception per error the chat can answer, carrying its wire code, close code and HTTP status.

Services raise these; the consumer turns them into `error` frames or close codes and the views
into HTTP responses, so that a rule reads the same from every entry point.
"""


class ChatError(Exception):
    code = "invalid"
    http_status = 400
    close_code = 4400
    default_message = "That request is not valid."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        self.message = message or self.default_message
        self.retry_after = retry_after
        super().__init__(self.message)


class Invalid(ChatError):
    pass


class UnknownType(ChatError):
    code = "unknown_type"
    default_message = "Unknown frame type."


class TooLong(ChatError):
    code = "too_long"
    default_message = "That is too long."


class TooLarge(TooLong):
    """A file over the size limit: HTTP's 413, the wire's `too_long`."""

    http_status = 413
    default_message = "That file is too large."


class RateLimited(ChatError):
    code = "rate_limited"
    http_status = 429
    default_message = "Slow down."


class Muted(ChatError):
    code = "muted"
    http_status = 403
    default_message = "You are muted in this room."


class Forbidden(ChatError):
    code = "forbidden"
    http_status = 403
    close_code = 4403
    default_message = "You may not do that here."


class NotFound(ChatError):
    code = "not_found"
    http_status = 404
    close_code = 4404
    default_message = "No such thing."


class Unauthenticated(ChatError):
    code = "unauthenticated"
    http_status = 401
    close_code = 4401
    default_message = "Log in first."


class Unavailable(ChatError):
    """A dependency (database, Redis) failed: nothing was done, and the client may retry."""

    code = "unavailable"
    http_status = 503
    # Like WebSocket's 1013 "try again later", which Daphne refuses: 4000-4999 are ours.
    close_code = 4503
    default_message = "The server could not do that just now; try again."
