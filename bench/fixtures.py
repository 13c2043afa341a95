"""Users, sessions and rooms for the product, made through Django in the benchmark's process.

Logging in over HTTP would hash a password per user (PBKDF2, deliberately slow), which at
2,000 users would measure the hasher rather than the chat. So the users share one precomputed
password hash, and each gets a real database session holding exactly what
`django.contrib.auth.login` writes (`_auth_user_id`, `_auth_user_backend`, `_auth_user_hash`).
The Daphne workers see ordinary logged-in sessions; the secret key they sign with is the same.
Rooms are made with the product's own `chat.rooms.create_room`, owned by an account that opens
no socket (an owner is a member, and a member with a socket hears every room's `activity`).
Scenario F's hundreds of rooms and thousands of memberships are inserted in bulk instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

USERNAME = "bench{:05d}"
OWNER = "benchowner"
F_USERNAME = "benchf{:05d}"
PASSWORD = "bench-password-not-secret-17"  # a benchmark's throwaway accounts
BACKEND = "django.contrib.auth.backends.ModelBackend"


def setup(env: dict[str, str]) -> None:
    """Django in this process, on the same database and secret key as the workers."""
    os.environ.update(env)
    import django

    django.setup()


@dataclass
class Account:
    username: str
    user_id: int
    session_key: str


def make_accounts(count: int, pattern: str = USERNAME) -> list[Account]:
    """`count` users named `pattern.format(i)`, each with one logged-in session, in a few
    bulk inserts."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    user_model = get_user_model()
    password = make_password(PASSWORD)
    names = [pattern.format(i) for i in range(count)]
    user_model.objects.bulk_create(
        [user_model(username=name, password=password) for name in names], batch_size=1000
    )
    users = {u.username: u for u in user_model.objects.filter(username__in=names)}
    store = SessionStore()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    accounts, sessions = [], []
    for name in names:
        user = users[name]
        key = get_random_string(32, VALID_KEY_CHARS)  # as SessionStore makes them
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": BACKEND,
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=expires)
        )
        accounts.append(Account(name, user.pk, key))
    Session.objects.bulk_create(sessions, batch_size=1000)
    return accounts


def make_rooms(owner: Account, names: list[str]) -> list[str]:
    """Public rooms owned by `owner`; their slugs."""
    from django.contrib.auth import get_user_model

    from chat import rooms

    creator = get_user_model().objects.get(pk=owner.user_id)
    return [rooms.create_room(creator=creator, name=name, kind="public").slug for name in names]


def make_member_rooms(
    owner: Account, names: list[str], members: list[tuple[Account, list[int]]]
) -> list[str]:
    """Public rooms named and addressed `names`, owned by `owner`, and for each (account,
    room indexes) of `members` a membership in those rooms, all in bulk inserts; the slugs."""
    from chat.models import Membership, Room

    Room.objects.bulk_create(
        [Room(slug=name, name=name, kind="public", created_by_id=owner.user_id) for name in names],
        batch_size=1000,
    )
    ids = dict(Room.objects.filter(slug__in=names).values_list("slug", "id"))
    rows = [Membership(room_id=ids[name], user_id=owner.user_id, role="owner") for name in names]
    rows += [
        Membership(room_id=ids[names[r]], user_id=account.user_id, role="member")
        for account, rooms in members
        for r in rooms
    ]
    Membership.objects.bulk_create(rows, batch_size=2000)
    return list(names)


def stored_messages(slugs: list[str]) -> int:
    """How many messages the rooms hold, deleted or not."""
    from chat.models import Message

    return Message.objects.filter(room__slug__in=slugs).count()


def close_connections() -> None:
    from django.db import connections

    connections.close_all()


def login_over_http(base: str, username: str, password: str = PASSWORD) -> str:
    """Log in through the login form as a browser does (CSRF cookie and token, then POST);
    the session key the site set. Shows that the sessions made above are no shortcut."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    opener.open(f"{base}/accounts/login/", data=form, timeout=30).read()
    for cookie in jar:
        if cookie.name == "sessionid":
            return cookie.value
    raise RuntimeError("the login form set no session cookie")
