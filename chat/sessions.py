"""Django's database sessions, with the session's row read by one plain statement.

Every socket reads its session as it opens, and every page request too; the ORM's `get`
compiled its query each time, about half of the session and user lookup's CPU in a
reconnect storm (docs/performance.md, issue 17). Everything else (decoding, the session's
hash, expiry, saving) is Django's `db` engine unchanged. `SESSION_ENGINE = "chat.sessions"`.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from . import rows


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        """The session's row if it exists and has not expired; else None, forgetting the key,
        as Django's engine does."""
        sql = (
            f"SELECT {rows.columns(Session, 's')} FROM {Session._meta.db_table} s"
            " WHERE s.session_key = %s AND s.expire_date > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return rows.instance(Session, row)
