"""Security: who may open a socket and from where, what a frame may touch, what pages show, which
forms a foreign site could post, how big a frame may be, and how production is configured.

Already proven elsewhere, and not repeated here:
- a foreign or missing Origin refused by the ASGI application (in process):
  test_connect.py::test_foreign_or_missing_origin_is_refused_at_the_handshake (here: by a real
  Daphne, over the network, with HTTP 403);
- a password change closing sockets on the same process:
  test_moderation.py::test_a_password_change_closes_every_session_s_sockets (here: on another
  worker, through Redis); logout across workers: test_workers.py; deactivation and bans across
  workers: test_moderation_workers.py;
- the login form's CSRF check: test_views.py::test_login_checks_csrf (so /accounts/login/ is not
  in the CSRF list below);
- every malformed frame answering `error`: test_bad_frames.py and test_fuzz.py.
"""

import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from chat import messages, moderation, rooms
from chat.models import (
    Block,
    BlockedTerm,
    Membership,
    Message,
    ModerationLog,
    Report,
    Room,
)

from . import nginx
from .conftest import PASSWORD, ROOT, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOADS = (SCRIPT, IMG)
# What each payload must look like in HTML (Django's escaping) or in JSON inside HTML.
ESCAPED = {
    SCRIPT: ("&lt;script&gt;alert(1)&lt;/script&gt;", "\\u003Cscript\\u003Ealert(1)"),
    IMG: ("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", "\\u0022\\u003E\\u003Cimg src=x"),
}
# Fragments that must never reach a page unescaped, in whatever context.
DANGEROUS = ("<script>alert", "<img src=x", "onerror=alert(1)>")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Users are made with MD5 here, not 1,000,000 rounds of PBKDF2: hashing is not under test,
    and it would cost a second a test. (Autouse, so it holds before the user fixtures run.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _client(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


# --- 1. Cross-site WebSocket hijacking, against a real Daphne -----------------------------------


async def test_a_real_daphne_refuses_a_foreign_or_missing_origin_with_403(
    daphne, alice, public_room
):
    worker = daphne()
    cookie = await sync_to_async(session_cookie)(alice)
    url = f"ws://127.0.0.1:{worker.port}/ws/rooms/{public_room.slug}/"
    headers = {"Cookie": f"sessionid={cookie}"}
    foreign = [
        "http://evil.example",
        f"http://evil.example:{worker.port}",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "https://evil.example@127.0.0.1.evil.example",
        "null",
        None,  # no Origin header at all
        # The site's host on another port or scheme is another site to a browser.
        "http://127.0.0.1:9999",
        "http://127.0.0.1",
        f"https://127.0.0.1:{worker.port}",
        f"ftp://127.0.0.1:{worker.port}",
    ]
    for origin in foreign:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                url, additional_headers=headers, origin=origin, open_timeout=10
            )
        assert refused.value.response.status_code == 403, origin
    for origin in (f"http://127.0.0.1:{worker.port}", f"http://localhost:{worker.port}"):
        sock = await worker.connect(alice, public_room.slug, origin=origin, cookie=cookie)
        assert sock.ready["me"]["username"] == "alice"
        await sock.roundtrip()
        await sock.close()
    # Behind a TLS proxy that says so (SECURE_PROXY_SSL_HEADER), the site's origin is https.
    behind_tls = await websockets.connect(
        url,
        additional_headers={**headers, "X-Forwarded-Proto": "https"},
        origin=f"https://127.0.0.1:{worker.port}",
        open_timeout=10,
    )
    assert json.loads(await behind_tls.recv())["type"] == "ready"
    await behind_tls.close()


@pytest.mark.parametrize(
    "path", ["/ws/nothing/", "/ws/rooms/a%2Fb/", "/ws/rooms/general/extra/", "/elsewhere"]
)
async def test_unknown_socket_paths_close_with_4404_and_log_no_error(daphne, path):
    """The finding: they answered HTTP 500 with a traceback in the log, without logging in."""
    worker = daphne()
    sock = await websockets.connect(
        f"ws://127.0.0.1:{worker.port}{path}",
        origin=f"http://127.0.0.1:{worker.port}",
        open_timeout=10,
    )
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(sock.recv(), 5)
    assert closed.value.rcvd.code == 4404
    assert "Traceback" not in worker.log.read_text()


# --- 2. A password change reaches sockets on another worker -----------------------------------


async def test_a_password_change_closes_the_users_sockets_on_another_worker_within_a_second(
    redis_layer, daphne, alice, bob, public_room
):
    worker = daphne()
    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    old_cookie = browser.cookies["sessionid"].value
    this_session = await worker.connect(alice, public_room.slug, cookie=old_cookie)
    other_session = await worker.connect(alice, public_room.slug)
    bystander = await worker.connect(bob, public_room.slug)

    response = await sync_to_async(browser.post)(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-password-93",
            "new_password2": "a-brand-new-password-93",
        },
    )
    assert response.status_code == 302
    loop = asyncio.get_running_loop()
    changed = loop.time()
    for sock in (this_session, other_session):
        assert await sock.expect_close(timeout=1) == 4401
        assert loop.time() - changed < 1.0
    await bystander.roundtrip()
    # The old session is over for good; the browser that changed it goes on, renewed.
    stale = await worker.connect(alice, public_room.slug, cookie=old_cookie, expect_ready=False)
    assert await stale.expect_close() == 4401
    renewed = browser.cookies["sessionid"].value
    assert renewed != old_cookie
    fresh = await worker.connect(alice, public_room.slug, cookie=renewed)
    await fresh.roundtrip()


# --- 3. A socket acts on its own room only ----------------------------------------------------


def _elsewhere(alice, bob, carol) -> dict[str, Message]:
    """Messages in rooms other than `general`: alice's private room (bob is not a member), a
    room bob owns (where he could edit anything) and a direct room of alice and carol."""
    secret = rooms.create_room(creator=alice, name="Secret plans", kind="private")
    bobs = rooms.create_room(creator=bob, name="Bob's place", kind="public")
    direct = rooms.direct_room(user=alice, other=carol)
    return {
        "secret": messages.post(author=alice, room=secret, body="secret")[0],
        "bobs own": messages.post(author=bob, room=bobs, body="bob's, elsewhere")[0],
        "direct": messages.post(author=carol, room=direct, body="psst")[0],
    }


def _snapshot() -> list[tuple]:
    return [
        *Message.objects.order_by("pk").values_list("pk", "room_id", "body", "edited", "deleted"),
        *Membership.objects.order_by("pk").values_list("pk", "room_id", "last_read", "role"),
        ("reports", Report.objects.count()),
        ("log", ModerationLog.objects.count()),
    ]


async def test_acting_on_another_rooms_message_by_its_id_is_not_found_and_changes_nothing(
    open_socket, alice, bob, carol, public_room
):
    targets = await sync_to_async(_elsewhere)(alice, bob, carol)
    watchers = [
        await open_socket(bob, "bobs-place"),
        await open_socket(alice, "secret-plans"),
        await open_socket(carol, targets["direct"].room.slug),
    ]
    sock = await open_socket(bob, public_room.slug)
    before = await sync_to_async(_snapshot)()
    for name, message in targets.items():
        for frame in (
            {"type": "message.edit", "id": message.pk, "body": "rewritten"},
            {"type": "message.delete", "id": message.pk},
            {"type": "message.report", "id": message.pk, "reason": "spam"},
            {"type": "read", "id": message.pk},
        ):
            await sock.send_text(json.dumps(frame))
            reply = await sock.expect("error")
            assert reply["code"] == "not_found", (name, frame, reply)
    await sock.roundtrip()
    for watcher in watchers:
        await watcher.expect_silence(0.3)
    assert await sync_to_async(_snapshot)() == before


async def test_message_send_ignores_fields_that_name_another_room_author_time_or_id(
    open_socket, alice, bob, carol, public_room
):
    targets = await sync_to_async(_elsewhere)(alice, bob, carol)
    secret = targets["secret"]
    sock = await open_socket(bob, public_room.slug)
    await sock.send(
        "message.send",
        body="mine",
        room=secret.room.slug,
        room_id=secret.room_id,
        slug=secret.room.slug,
        author="alice",
        author_id=alice.pk,
        user="alice",
        user_id=alice.pk,
        username="alice",
        id=secret.pk,
        created="2001-01-01T00:00:00Z",
        edited="2001-01-01T00:00:00Z",
        deleted="2001-01-01T00:00:00Z",
    )
    message = (await sock.expect("message"))["message"]
    assert message["room"] == public_room.slug and message["author"] == "bob"
    assert message["id"] > max(t.pk for t in targets.values())
    assert message["created"][:4] == str(timezone.now().year) and message["edited"] is None
    stored = await sync_to_async(Message.objects.select_related("room", "author").get)(
        pk=message["id"]
    )
    assert (stored.room.slug, stored.author.username, stored.deleted) == ("general", "bob", None)
    assert abs((timezone.now() - stored.created).total_seconds()) < 60
    untouched = await sync_to_async(Message.objects.select_related("author").get)(pk=secret.pk)
    assert (untouched.body, untouched.author.username) == ("secret", "alice")
    assert not await sync_to_async(Message.objects.filter(room=secret.room, author=bob).exists)()


@pytest.mark.parametrize("action", ["refuse", "mask"])
async def test_an_edit_cannot_smuggle_in_a_blocked_term(open_socket, bob, public_room, action):
    await sync_to_async(BlockedTerm.objects.create)(term="darn", action=action)
    sock = await open_socket(bob, public_room.slug)
    await sock.send("message.send", body="hello")
    sent = (await sock.expect("message"))["message"]
    await sock.send("message.edit", id=sent["id"], body="darn it")
    reply = await sock.recv()
    stored = await sync_to_async(Message.objects.get)(pk=sent["id"])
    assert "darn" not in stored.body.lower(), (reply, stored.body)
    if action == "refuse":
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    else:
        assert reply["type"] == "message.edited" and reply["message"]["body"] == "**** it"


# --- 4. Cross-site scripting: what users typed is escaped everywhere it is shown --------------


def _assert_escaped(html: str, where: str, shows: tuple[str, ...] = PAYLOADS) -> None:
    for fragment in DANGEROUS:
        assert fragment not in html, f"{where}: {fragment!r} unescaped"
    for payload in PAYLOADS:
        assert payload not in html, f"{where}: the payload {payload!r} unescaped"
    for payload in shows:
        assert any(form in html for form in ESCAPED[payload]), (
            f"{where} does not show {payload!r} (escaped) at all"
        )


@pytest.fixture
def xss_world(make_user, alice, bob):
    """Payloads in a room's name and topic, in message bodies, a report, a direct message and
    the moderation log."""
    root = make_user("root", is_staff=True, is_superuser=True)
    room = rooms.create_room(creator=alice, name=SCRIPT, kind="public")
    other = rooms.create_room(creator=alice, name=IMG, kind="private")
    moderation.set_topic(actor=alice, room=room, topic=f"{SCRIPT} {IMG}")
    rooms.open_room(user=bob, slug=room.slug)
    kept, _ = messages.post(author=bob, room=room, body=f"{SCRIPT} {IMG}")
    doomed, _ = messages.post(author=bob, room=room, body=f"{IMG} {SCRIPT}")
    report = moderation.report(reporter=alice, room=room, message_id=kept.pk, reason=SCRIPT + IMG)
    messages.delete(actor=alice, room=room, message_id=doomed.pk, reason=f"{SCRIPT} {IMG}")
    direct = rooms.direct_room(user=alice, other=bob)
    messages.post(author=bob, room=direct, body=f"{SCRIPT} {IMG}")
    moderation.ban(actor=alice, room=other, user=bob, reason=f"{IMG} {SCRIPT}")
    return {"root": root, "room": room, "other": other, "message": kept, "report": report}


def test_user_typed_text_is_escaped_on_every_page_that_shows_it(xss_world, alice):
    room = xss_world["room"]
    client = _client(alice)
    pages = {
        "lobby": "/",
        "room page": f"/rooms/{room.slug}/",
        "private room page": f"/rooms/{xss_world['other'].slug}/",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        shows = (IMG,) if where == "private room page" else PAYLOADS
        _assert_escaped(response.content.decode(), where, shows)

    # What the blocks page echoes back: an unknown name in its error; an unblock of someone
    # never blocked says nothing at all.
    response = client.post("/settings/blocks/", {"username": SCRIPT})
    _assert_escaped(response.content.decode(), "blocks page with an error", (SCRIPT,))
    client.post("/settings/blocks/", {"unblock": IMG})
    response = client.get("/settings/blocks/")
    _assert_escaped(response.content.decode(), "blocks page after an unblock", ())
    assert "unblocked" not in response.content.decode()  # (the sidebar shows room names)
    # Adding an unknown member: the room page's notice names them.
    client.post(f"/rooms/{xss_world['other'].slug}/members/", {"username": SCRIPT})
    response = client.get(f"/rooms/{xss_world['other'].slug}/")
    _assert_escaped(response.content.decode(), "room page with a notice", PAYLOADS)
    # A room name that fails to create comes back in the form.
    response = client.post("/rooms/new/", {"name": SCRIPT + "x" * 80, "kind": "public"})
    assert response.status_code == 400
    _assert_escaped(response.content.decode(), "lobby with a form error", PAYLOADS)


def test_user_typed_text_is_escaped_in_admin(xss_world):
    admin = _client(xss_world["root"])
    log = ModerationLog.objects.filter(action=ModerationLog.Action.DELETE_MESSAGE).get()
    pages = {
        "messages": "/admin/chat/message/",
        "a message": f"/admin/chat/message/{xss_world['message'].pk}/change/",
        "rooms": "/admin/chat/room/",
        "a room": f"/admin/chat/room/{xss_world['room'].pk}/change/",
        "reports": "/admin/chat/report/",
        "a report": f"/admin/chat/report/{xss_world['report'].pk}/change/",
        "moderation log": "/admin/chat/moderationlog/",
        "a log entry": f"/admin/chat/moderationlog/{log.pk}/change/",
        "bans": "/admin/chat/roomban/",
        "search": f"/admin/chat/message/?q={quote(SCRIPT)}",
    }
    for where, url in pages.items():
        response = admin.get(url)
        assert response.status_code == 200, (where, response.status_code)
        _assert_escaped(response.content.decode(), f"admin: {where}")


def test_user_typed_text_is_escaped_on_the_room_settings_page(xss_world, alice):
    response = _client(alice).get(f"/rooms/{xss_world['room'].slug}/settings/")
    assert response.status_code == 200
    _assert_escaped(response.content.decode(), "room settings page")


def test_the_escaping_check_sees_raw_or_missing_payloads():
    """The XSS check is not blind: raw markup, or a page that never shows the payload, fails."""
    escaped = " ".join(forms[0] for forms in ESCAPED.values())
    _assert_escaped(f"<p>{escaped}</p>", "escaped")
    for page in (f"<p>{SCRIPT} {escaped}</p>", f"<a title='{IMG}'>{escaped}</a>", "<p>x</p>"):
        with pytest.raises(AssertionError):
            _assert_escaped(page, "raw")


def test_usernames_cannot_carry_markup(client):
    for name in (SCRIPT, IMG, "bob<b>", 'a"b'):
        response = client.post(
            "/accounts/signup/", {"username": name, "password1": PASSWORD, "password2": PASSWORD}
        )
        assert response.status_code == 200, name  # the form again, with an error
        _assert_escaped(response.content.decode(), f"signup as {name!r}", ())
    assert not get_user_model().objects.exists()


# --- 5. CSRF: every form refuses a post without the token --------------------------------------


@pytest.fixture
def csrf_world(make_user, alice, bob, private_room):
    root = make_user("root", is_staff=True, is_superuser=True)
    return {"root": root, "room": private_room}


def _state(alice) -> tuple:
    alice.refresh_from_db()
    return (
        Room.objects.count(),
        Membership.objects.count(),
        list(Room.objects.values_list("slug", "topic", "slow_mode_seconds", "posting")),
        Block.objects.count(),
        BlockedTerm.objects.count(),
        get_user_model().objects.count(),
        alice.password,
        ModerationLog.objects.count(),
    )


CSRF_FORMS = [
    ("create a room", "alice", "/rooms/new/", {"name": "Forged", "kind": "public"}),
    ("add a member", "alice", "/rooms/secret-plans/members/", {"username": "bob"}),
    ("room settings", "alice", "/rooms/secret-plans/settings/", {"action": "topic", "topic": "x"}),
    ("block someone", "alice", "/settings/blocks/", {"username": "bob"}),
    ("log out", "alice", "/accounts/logout/", {}),
    (
        "change the password",
        "alice",
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "forged-password-77",
            "new_password2": "forged-password-77",
        },
    ),
    (
        "sign up",
        None,
        "/accounts/signup/",
        {"username": "forged", "password1": PASSWORD, "password2": PASSWORD},
    ),
    ("admin add form", "root", "/admin/chat/blockedterm/add/", {"term": "x", "action": "mask"}),
    ("admin change form", "root", "/admin/chat/room/{pk}/change/", {"name": "Forged"}),
]


@pytest.mark.parametrize(
    ("user", "url", "data"), [f[1:] for f in CSRF_FORMS], ids=[f[0] for f in CSRF_FORMS]
)
def test_a_form_posted_without_the_csrf_token_is_refused_and_changes_nothing(
    csrf_world, alice, user, url, data
):
    actor = {"alice": alice, "root": csrf_world["root"], None: None}[user]
    url = url.format(pk=csrf_world["room"].pk)
    client = _client(actor, enforce_csrf_checks=True)
    before = _state(alice)
    response = client.post(url, data)
    assert response.status_code == 403
    # A token that is not the cookie's, or a good token from a foreign origin, does no better.
    client.get("/accounts/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    forged = client.post(url, {**data, "csrfmiddlewaretoken": "x" * 64})
    assert forged.status_code == 403
    foreign = client.post(
        url, {**data, "csrfmiddlewaretoken": token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert _state(alice) == before
    if actor is not None:  # still logged in: the logout was refused too
        assert "_auth_user_id" in client.session


def test_the_same_form_with_its_token_goes_through(csrf_world, alice):
    """The check above is not refusing everything: with the page's token, a post works."""
    client = _client(alice, enforce_csrf_checks=True)
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/rooms/new/", {"name": "Real", "kind": "public", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and Room.objects.filter(name="Real").exists()


# --- 6. Frame size limits, against a real Daphne ----------------------------------------------


async def test_daphne_closes_a_socket_that_sends_a_frame_over_its_limit_and_only_that_one(
    daphne, alice, bob, public_room
):
    worker = daphne()
    sender = await worker.connect(alice, public_room.slug)
    sender_elsewhere = await worker.connect(alice, public_room.slug)
    bystander = await worker.connect(bob, public_room.slug)

    # Under Daphne's 256 KiB: the chat's own limits answer, the socket stays.
    for text in (
        json.dumps({"type": "message.send", "body": "x" * 60_000}),  # the body's limit
        json.dumps({"type": "ping", "pad": "y" * 100_000}),  # the frame's 64 KiB limit
        json.dumps({"type": "ping", "pad": "\xe9" * 120_000}, ensure_ascii=False),  # 240 KB
    ):
        await sender.send_text(text)
        assert (await sender.expect("error", timeout=5))["code"] == "too_long"
        await sender.roundtrip()

    # Over it (300 KB of text, or 300 KB of UTF-8 in 150,000 characters): Daphne drops the
    # connection. Autobahn, under Daphne, fails a connection by dropping TCP (its failByDrop
    # default), so the client sees 1006 (no close frame) rather than 1009 (message too big);
    # either way the frame never reaches the application.
    for text in (
        json.dumps({"type": "message.send", "body": "z" * 300_000}),
        json.dumps({"type": "ping", "pad": "\xe9" * 150_000}, ensure_ascii=False),
    ):
        victim = await worker.connect(alice, public_room.slug)
        await victim.send_text(text)
        assert await victim.expect_close(timeout=5) in (1006, 1009)

    # Everyone else goes on: pings, and messages both ways.
    await bystander.roundtrip()
    await sender_elsewhere.roundtrip()
    await sender.send("message.send", body="still here")
    for sock in (sender, sender_elsewhere, bystander):
        assert (await sock.expect("message", timeout=5))["message"]["body"] == "still here"
    assert await sync_to_async(Message.objects.count)() == 1


# --- 7. Production settings -------------------------------------------------------------------

SECURITY_SETTINGS = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "ALLOWED_HOSTS",
]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SECURITY_SETTINGS!r}}}))"
)
SECURE_VARIABLES = ("DJANGO_SECURE", "DJANGO_SSL_REDIRECT", "DJANGO_HSTS_SECONDS")


def test_production_settings_are_secure_by_default():
    dotenv = ROOT / ".env"
    if dotenv.exists() and any(name in dotenv.read_text() for name in SECURE_VARIABLES):
        pytest.skip(".env pins a DJANGO_SECURE* variable; the defaults cannot be seen")
    env = {k: v for k, v in os.environ.items() if k not in SECURE_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="chatsite.settings", DJANGO_DEBUG="false")
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["DEBUG"] is False
    for name in (
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
    ):
        assert found[name] is True, (name, found)
    assert found["SECURE_HSTS_SECONDS"] >= 31536000, found
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert "*" not in found["ALLOWED_HOSTS"]


@pytest.mark.parametrize(
    "key",
    [None, "", "short", "django-insecure-public-placeholder-set-DJANGO_SECRET_KEY-in-production"],
)
def test_the_site_refuses_to_start_without_a_real_secret_key(key):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="chatsite.settings", DJANGO_DEBUG="false")
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr
    debugging = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert debugging.returncode == 0, debugging.stderr


def test_logging_in_sets_a_secure_http_only_session_cookie(alice):
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] is True and cookie["httponly"] is True, cookie.output()
    assert cookie["samesite"].lower() in ("lax", "strict"), cookie.output()
    assert client.cookies["sessionid"]["secure"] and client.cookies["sessionid"]["httponly"]
    csrf = client.get("/").cookies.get("csrftoken") or client.cookies["csrftoken"]
    assert csrf["secure"] is True


# --- 8. Content-Security-Policy, and HTML that lives with it ----------------------------------


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, on* handlers, style attributes,
    <style> blocks and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: dict | None = None
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._script = names
        if tag == "style":
            self._style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None
        if tag == "style":
            self._style = False

    def handle_data(self, data: str) -> None:
        if self._script is not None and data.strip():
            if self._script.get("type") != "application/json" or "src" in self._script:
                self.problems.append(f"inline <script>: {data.strip()[:60]!r}")
        if self._style and data.strip():
            self.problems.append(f"inline <style>: {data.strip()[:60]!r}")


def _csp_directives(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy header: {dict(response.headers)}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def _assert_strict_csp(response, where: str) -> None:
    directives = _csp_directives(response)
    for directive in ("script-src", "style-src"):
        sources = directives.get(directive, [])
        assert "'self'" in sources, (where, directive, directives)
        for loose in ("*", "data:", "http:", "https:", "blob:"):
            assert loose not in sources, (where, directive, directives)
    header = response["Content-Security-Policy"]
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"):
        assert loose not in header, (where, header)
    assert directives.get("object-src") == ["'none'"], (where, directives)
    assert directives.get("frame-ancestors") == ["'none'"], (where, directives)


def _assert_no_inline_code(response, where: str) -> None:
    finder = _InlineFinder()
    finder.feed(response.content.decode())
    finder.close()
    assert not finder.problems, f"{where}: {finder.problems}"


@pytest.fixture
def csp_world(alice, bob, carol, public_room, private_room):
    rooms.open_room(user=bob, slug=public_room.slug)
    direct = rooms.direct_room(user=alice, other=bob)
    messages.post(author=bob, room=direct, body="hi")
    return {"direct": direct}


def _page(name: str, world, alice, carol):
    """Each page, as its usual visitor gets it: (response, expected status)."""
    me = _client(alice, raise_request_exception=False)
    anonymous = Client(raise_request_exception=False)
    if name == "lobby":
        return me.get("/"), 200
    if name == "lobby with a form error":
        return me.post("/rooms/new/", {"name": "", "kind": "public"}), 400
    if name == "room":
        return me.get("/rooms/general/"), 200
    if name == "private room":
        return me.get("/rooms/secret-plans/"), 200
    if name == "direct room":
        return me.get(f"/rooms/{world['direct'].slug}/"), 200
    if name == "login":
        return anonymous.get("/accounts/login/"), 200
    if name == "login with an error":
        return anonymous.post("/accounts/login/", {"username": "alice", "password": "no"}), 200
    if name == "signup":
        return anonymous.get("/accounts/signup/"), 200
    if name == "signup with errors":
        return anonymous.post("/accounts/signup/", {"username": "x", "password1": "a"}), 200
    if name == "blocks":
        return me.get("/settings/blocks/"), 200
    if name == "password change":
        return me.get("/accounts/password/"), 200
    if name == "room settings":
        return me.get("/rooms/general/settings/"), 200
    if name == "403":
        return _client(carol, raise_request_exception=False).get("/rooms/secret-plans/"), 403
    if name == "404":
        return me.get("/rooms/no-such-room/"), 404
    if name == "login lockout":
        for _ in range(5):
            anonymous.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        return anonymous.post("/accounts/login/", {"username": "alice", "password": "x"}), 429
    raise AssertionError(name)


PAGES = [
    "lobby",
    "lobby with a form error",
    "room",
    "private room",
    "direct room",
    "login",
    "login with an error",
    "signup",
    "signup with errors",
    "blocks",
    "password change",
    "room settings",
    "403",
    "404",
    "login lockout",
]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_carries_a_strict_csp_and_no_inline_script_or_style(
    csp_world, alice, carol, page
):
    response, status = _page(page, csp_world, alice, carol)
    assert response.status_code == status, (page, response.status_code)
    _assert_strict_csp(response, page)
    assert response["Content-Type"].startswith("text/html"), page
    _assert_no_inline_code(response, page)


def test_admin_pages_carry_the_csp_header_too(make_user, public_room):
    admin = _client(make_user("root", is_staff=True, is_superuser=True))
    for url in ("/admin/", "/admin/chat/message/", "/admin/chat/room/", "/admin/login/"):
        response = admin.get(url)
        assert response.status_code in (200, 302), url
        _assert_strict_csp(response, url)


def test_the_csp_check_sees_inline_code():
    """The HTML check is not blind: it finds each thing it looks for."""
    page = (
        '<div style="color:red" onclick="x()"><a href="javascript:go()">a</a></div>'
        "<script>alert(1)</script><style>p{}</style>"
        '<script src="/static/x.js"></script><script type="application/json">{"a": 1}</script>'
    )
    finder = _InlineFinder()
    finder.feed(page)
    assert len(finder.problems) == 5, finder.problems


# --- 9. Sessions that ended on the server -----------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "expired", "old password"])
async def test_a_socket_whose_session_ended_on_the_server_is_closed_with_4401_on_reconnect(
    open_socket, alice, public_room, how
):
    cookie = await sync_to_async(session_cookie)(alice)
    first = await open_socket(alice, public_room.slug, cookie=cookie)
    await first.roundtrip()
    await first.close()

    def end_session() -> None:
        session = Session.objects.filter(session_key=cookie)
        if how == "deleted":
            session.delete()
        elif how == "expired":
            session.update(expire_date=timezone.now() - timedelta(seconds=1))
        else:  # changed without this session knowing (e.g. `manage.py changepassword`)
            alice.set_password("a-different-password-55")
            alice.save()

    await sync_to_async(end_session)()
    again = await open_socket(alice, public_room.slug, cookie=cookie, expect_ready=False)
    assert again.accepted
    assert await again.expect_close() == 4401
    # A fresh login gets in.
    await open_socket(alice, public_room.slug)


# --- Behind the shipped nginx ----------------------------------------------------------------


@pytest.fixture
def behind_nginx(daphne, tmp_path):
    """`behind_nginx(**env)`: a Daphne worker with --proxy-headers, as docker-compose.yml runs
    it, behind deploy/nginx.conf run by a real nginx."""
    started = []

    def start(**env):
        worker = daphne("--proxy-headers", **env)
        directory = tmp_path / f"nginx-{len(started)}"
        directory.mkdir()
        started.append(nginx.start(directory, worker.port))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def test_forged_forwarded_addresses_do_not_escape_the_login_lockout(behind_nginx, alice):
    """The finding: nginx appended the client's own X-Forwarded-For and Daphne took its first
    entry, so 20 wrong passwords from rotating forged addresses never locked the account."""
    proxy = behind_nginx()
    statuses = []
    for n in range(20):
        statuses.append(
            _through(
                proxy,
                "/accounts/login/",
                {"username": "alice", "password": f"wrong-{n}"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        )
    # The form again, with an error; the fifth failure (AXES_FAILURE_LIMIT) locks the account
    # out for the address nginx saw, whatever the client claimed.
    assert statuses == [200] * 4 + [429] * 16
    right = _through(
        proxy,
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.99"},
    )
    assert right == 429


def test_a_forged_forwarded_scheme_does_not_pass_for_https(behind_nginx):
    """nginx passed a client's X-Forwarded-Proto on, which Django trusts."""
    proxy = behind_nginx(DJANGO_SECURE="true")
    status, location = _get(proxy, "/accounts/login/", {"X-Forwarded-Proto": "https"})
    assert status == 301 and location.startswith("https://")


def _get(proxy, path: str, headers: dict[str, str]) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{proxy.port}", **headers})
    response = connection.getresponse()
    connection.close()
    return response.status, response.getheader("Location") or ""


def _through(proxy, path: str, form: dict[str, str], headers: dict[str, str]) -> int:
    """POST a login form through the proxy as a browser would: its page first, for the CSRF
    cookie and token."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    host = {"Host": f"127.0.0.1:{proxy.port}"}
    connection.request("GET", path, headers={**host, **headers})
    page = connection.getresponse()
    body = page.read().decode()
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    connection.request(
        "POST",
        path,
        body=urlencode({**form, "csrfmiddlewaretoken": token}),
        headers={
            **host,
            **headers,
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://127.0.0.1:{proxy.port}",
            "Referer": f"http://127.0.0.1:{proxy.port}{path}",
        },
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status
