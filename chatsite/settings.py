"""Settings for the chat site.

Every setting that differs between a laptop and production comes from the environment, with an
embedded default that runs on one machine with nothing installed: SQLite and the in-memory
channel layer. `.env.example` lists the variables; `docs/architecture.md` explains the choices.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Sessions, CSRF tokens and password resets are signed with it: a site that is not in
# debugging mode refuses to start on a missing, short or public placeholder key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "django-insecure-local-development-only"
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY to 50 or more random characters, e.g. "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(or DJANGO_DEBUG=true on a laptop)."
    )
# Never "*": the WebSocket Origin check is built from this list.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language chosen, else Accept-Language (zh-* → zh-hans).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After it: a Bearer token on /api/ is who the request is (and exempts it from CSRF).
    "chat.authentication.ApiTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chat.languages.context",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Under ASGI every request may run in another thread: persistent connections would leak.
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process instead: a new PostgreSQL connection (a backend process forked, TLS,
    # authentication) for every database hop cost more CPU than the work itself
    # (docs/performance.md). Connections are checked when taken, so a database that restarted
    # costs one failed check, not a failed request.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=10),
        # Seconds to wait for a connection: while the database is down, a send is refused
        # (`unavailable`) after this long rather than hanging.
        "timeout": 5,
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server, not pasted into the text: a statement's text is then the
    # same every time, and psycopg prepares it on a pooled connection after its fifth run, so
    # PostgreSQL stops planning the posting query (half its time) for every message
    # (docs/performance.md, issue 17). Behind pgbouncer in transaction mode older than 1.21,
    # set DATABASE_PREPARE_THRESHOLD to an empty value: nothing is prepared then.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    PREPARE_THRESHOLD = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        int(PREPARE_THRESHOLD) if PREPARE_THRESHOLD else None
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Consumers reach the database from a worker thread; a file (not the shared in-memory
    # database) lets tests and separate Daphne processes see the same rows.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Writers take the lock when their transaction begins, so they wait for each other (up to
    # the timeout) instead of failing at once with "database is locked" on upgrading to write.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # One file per test process, so that two test runs in one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# Per process and per pool (the channel layer's, and presence and rate limits'); tasks past it
# wait for a free connection.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=100)
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=1000)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' core layer with a pool that queues for a connection (chat/layers.py).
            "BACKEND": "chat.layers.WaitingRedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: redis-py 8 otherwise drops the blocking read of an idle
                # socket's channel after a few seconds (channels_redis issue 422).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "max_connections": REDIS_MAX_CONNECTIONS,
                    }
                ],
                # A burst into one room must not overflow a socket's channel (default 100).
                "capacity": CHANNEL_CAPACITY,
                # A worker's fan-out channel (chat.fanout) carries the events of all its rooms.
                "channel_capacity": {"fanout.*": 10 * CHANNEL_CAPACITY},
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Only the site's own files: no inline script or style, nothing from elsewhere, no framing. An
# injected <script> or on* attribute would not run even if it got past the templates.
# connect-src 'self' covers the WebSocket to the same host.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # login throttling, before the real check
    "django.contrib.auth.backends.ModelBackend",
]
# After AXES_FAILURE_LIMIT failed logins for one username from one address, that pair is
# locked out for AXES_COOLOFF_MINUTES. Daphne's --proxy-headers already puts the client's
# address (from nginx's X-Forwarded-For) in REMOTE_ADDR.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_RESET_ON_SUCCESS = True

CSRF_FAILURE_VIEW = "chat.api.csrf_failure"  # JSON for the API, Django's page elsewhere

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "lobby"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Simplified Chinese answers zh, zh-CN, zh-Hans and, until a Traditional translation exists,
# zh-TW and zh-HK too (Django falls back to the first supported zh-* variant).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "chat" / "locale"]
# The choice made with /i18n/setlang/ outlives the browser session.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Uploaded files (chat.attachments), through Django's storage API: the filesystem here by
# default; S3 and the like through django-storages (README). They are served by
# /files/<id>/... only, after the access check of every download, never from a public URL.
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media-is-never-served-directly/"
# Who sends the bytes once Django has checked access: Django itself by default; nginx under
# docker compose (`django_sendfile.backends.nginx`: X-Accel-Redirect to SENDFILE_URL).
SENDFILE_BACKEND = env.str("SENDFILE_BACKEND", default="django_sendfile.backends.simple")
SENDFILE_ROOT = str(MEDIA_ROOT)
SENDFILE_URL = "/protected-files"

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "chatsite.storage.ManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Behind HTTPS (the default outside DEBUG) cookies are secure and browsers keep to HTTPS.
SECURE = env.bool("DJANGO_SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
LANGUAGE_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=SECURE)
# Load balancers and container health checks ask over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, their row read by plain SQL (chat/sessions.py).
SESSION_ENGINE = "chat.sessions"

# Chat rules; the defaults are documented in docs/protocol.md and docs/reliability.md.
CHAT_MESSAGE_MAX_LENGTH = 4000
CHAT_HISTORY_PAGE = 50


def _buckets(spec: dict[str, str]) -> dict[str, tuple[int, float]]:
    """`CHAT_RATE_LIMITS=edit=20/60,history=100/10`: a burst, and the seconds it refills in."""
    buckets = {}
    for kind, value in spec.items():
        burst, _, period = value.partition("/")
        buckets[kind] = (int(burst), float(period))
    return buckets


# Per user (sign-ups: per address) and kind of act, on every worker together: a burst, and the
# seconds in which the whole burst comes back (chat.ratelimits).
CHAT_RATE_LIMITS = {
    "message": (
        env.int("CHAT_RATE_MESSAGES", default=10),
        env.float("CHAT_RATE_PERIOD", default=10.0),
    ),
    "edit": (10, 60.0),  # edits and deletes
    "reaction": (30, 30.0),
    "upload": (10, 60.0),
    "report": (5, 300.0),
    "history": (30, 10.0),  # pages; a reconnecting client catches up 100 messages a page
    "search": (20, 10.0),  # searches, each a full-text query over every room one may open
    "read": (60, 30.0),
    "connect": (30, 60.0),  # sockets opened
    "room": (5, 3600.0),  # rooms created
    "signup": (5, 3600.0),  # accounts created from one address
    **_buckets(env.dict("CHAT_RATE_LIMITS", default={})),
}
# A socket answered `rate_limited` this many times with nothing taking effect in between is
# closed with 4429.
CHAT_FLOOD_STRIKES = env.int("CHAT_FLOOD_STRIKES", default=10)
# The largest file one may upload (bytes); nginx's client_max_body_size allows a little more.
CHAT_UPLOAD_MAX_BYTES = env.int("CHAT_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Images with more pixels than this are refused (decompression bombs).
CHAT_IMAGE_MAX_PIXELS = env.int("CHAT_IMAGE_MAX_PIXELS", default=40_000_000)
# Seconds a socket ticket (POST /api/tickets/) stays good for its one use.
CHAT_TICKET_SECONDS = env.float("CHAT_TICKET_SECONDS", default=30.0)
# Bot accounts one person may own.
CHAT_BOTS_PER_USER = env.int("CHAT_BOTS_PER_USER", default=10)
# Sockets one user may hold open at once, on all workers together; the next closes with 4429.
CHAT_SOCKETS_PER_USER = env.int("CHAT_SOCKETS_PER_USER", default=20)
# Bytes the server may hold for a socket whose peer does not read; past them it is dropped.
CHAT_SOCKET_BUFFER_MAX = env.int("CHAT_SOCKET_BUFFER_MAX", default=2 * 1024 * 1024)
CHAT_TYPING_INTERVAL = 2.0
CHAT_PRESENCE_TTL = env.float("CHAT_PRESENCE_TTL", default=60.0)
# A room's `presence` frames go out at most once per this many seconds from each worker.
CHAT_PRESENCE_COALESCE = env.float("CHAT_PRESENCE_COALESCE", default=0.3)
CHAT_HEARTBEAT_INTERVAL = env.float("CHAT_HEARTBEAT_INTERVAL", default=20.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it logs every successful login at INFO
    },
}
