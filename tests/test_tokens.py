"""API tokens and bots: made once and shown once, kept as a digest, presented in the
Authorization header of HTTP requests and socket handshakes (never in a URL), scoped, revoked on
every worker at once; one-time tickets for pages of other sites; bot accounts."""

import asyncio
import json
import time

import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.utils import timezone

from chat import bots, tokens
from chat.errors import Forbidden
from chat.models import ApiToken, Bot, Message

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def _token(user, scope="write", **fields) -> str:
    return tokens.create(actor=user, user=user, name="t", scope=scope, **fields)[1]


# --- Making, showing, keeping ----------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_digest_is_kept(alice):
    client = _client(alice)
    page = client.post(
        "/settings/tokens/", {"name": "CI", "scopes": ["read", "write"], "expires_days": "30"}
    )
    assert page.status_code == 200
    secret = page.context["new_token"]
    assert secret.startswith("chat_") and len(secret) >= len("chat_") + 43
    assert secret.encode() in page.content
    again = client.get("/settings/tokens/")
    assert secret.encode() not in again.content
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.prefix) == ("CI", "write", secret[:13])
    assert token.prefix.encode() in again.content and b"read, write" in again.content
    assert not any(secret in str(row) for row in ApiToken.objects.values())  # a digest only
    assert (token.expires - timezone.now()).days in (29, 30)


def test_revoking_a_token_on_the_page_stops_it(alice):
    secret = _token(alice)
    assert _bearer(secret).get("/api/rooms/").status_code == 200
    token = ApiToken.objects.get()
    assert _client(alice).post("/settings/tokens/", {"revoke": token.pk}).status_code == 302
    assert _bearer(secret).get("/api/rooms/").status_code == 401


def test_nobody_revokes_or_makes_anothers_tokens(alice, bob):
    _token(alice)
    token = ApiToken.objects.get()
    _client(bob).post("/settings/tokens/", {"revoke": token.pk})
    assert ApiToken.objects.filter(pk=token.pk).exists()
    with pytest.raises(Forbidden):
        tokens.create(actor=bob, user=alice, name="x", scope="write")


def test_last_used_is_written_at_most_once_a_minute(alice, django_assert_num_queries):
    secret = _token(alice, scope="read")
    tokens.authenticate(secret)
    first = ApiToken.objects.get().last_used
    with django_assert_num_queries(1):  # the lookup alone: no write this time
        tokens.authenticate(secret)
    ApiToken.objects.update(last_used=first - timezone.timedelta(minutes=2))
    tokens.authenticate(secret)
    assert ApiToken.objects.get().last_used > first


# --- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Bearer chat_unknownunknownunknownunknownunknownunknown12",
        "Bearer not-a-token",
        "Bearer ",
        "Basic YWxpY2U6cGFzcw==",
    ],
)
def test_bad_tokens_are_refused_with_401(alice, header):
    response = Client(headers={"Authorization": header}).get("/api/rooms/")
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def test_expired_tokens_and_a_deactivated_bots_are_refused(alice):
    expired = _token(alice)
    ApiToken.objects.update(expires=timezone.now() - timezone.timedelta(seconds=1))
    assert _bearer(expired).get("/api/rooms/").status_code == 401
    bot = bots.create(owner=alice, username="helper")
    secret = tokens.create(actor=alice, user=bot.user, name="b", scope="write")[1]
    assert _bearer(secret).get("/api/rooms/").status_code == 200
    bots.set_active(owner=alice, username="helper", active=False)
    assert _bearer(secret).get("/api/rooms/").status_code == 401


@pytest.mark.parametrize("query", ["?token={secret}", "?access_token=x", "?q={secret}"])
def test_a_token_in_a_url_is_refused(alice, query):
    secret = _token(alice)
    response = _bearer(secret).get("/api/rooms/" + query.format(secret=secret))
    assert response.status_code == 401 and "Authorization header" in response.json()["message"]


def test_posting_with_a_token_needs_no_csrf_and_a_cookie_post_keeps_it(alice, members):
    url = f"/api/rooms/{members.slug}/messages/"
    secret = _token(alice)
    bearer = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})
    made = bearer.post(
        url, {"body": "from a bot", "client_id": "c1"}, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["message"]["body"] == "from a bot"
    again = bearer.post(
        url, {"body": "from a bot", "client_id": "c1"}, content_type="application/json"
    )
    assert (
        again.status_code == 200 and again.json()["message"]["id"] == made.json()["message"]["id"]
    )
    cookie = Client(enforce_csrf_checks=True)
    cookie.force_login(alice)
    refused = cookie.post(url, {"body": "x"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    cookie.get("/")  # a page sets the CSRF cookie
    allowed = cookie.post(
        url,
        {"body": "with the token"},
        content_type="application/json",
        headers={"X-CSRFToken": cookie.cookies["csrftoken"].value},
    )
    assert allowed.status_code == 201
    assert Message.objects.count() == 2


def test_a_read_token_cannot_write(alice, members):
    read = _bearer(_token(alice, scope="read"))
    assert read.get(f"/api/rooms/{members.slug}/messages/").status_code == 200
    refused = read.post(
        f"/api/rooms/{members.slug}/messages/", {"body": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ("not json", 400, "invalid"),
        ("[1, 2]", 400, "invalid"),
        ('{"body": 5}', 400, "invalid"),
        ('{"body": ""}', 400, "invalid"),
        ('{"body": "x", "client_id": 7}', 400, "invalid"),
        ('{"body": "x", "reply_to": "1"}', 400, "invalid"),
        ('{"body": "' + "b" * 4001 + '"}', 400, "too_long"),
        ('{"body": "' + "b" * 300_000 + '"}', 400, "too_long"),
        ('{"body": "nul\\u0000"}', 400, "invalid"),
        ('{"body": "x", "reply_to": 999999}', 404, "not_found"),
    ],
)
def test_bad_bodies_get_a_clear_error_and_store_nothing(alice, members, payload, status, code):
    response = _bearer(_token(alice)).post(
        f"/api/rooms/{members.slug}/messages/", payload, content_type="application/json"
    )
    assert response.status_code == status and response.json()["error"] == code
    assert not Message.objects.exists()


def test_the_rules_of_sending_hold_for_the_api(alice, bob, members, staff, settings):
    from chat import moderation

    moderation.mute(
        actor=staff, room=members, user=bob, until=timezone.now() + timezone.timedelta(hours=1)
    )
    url = f"/api/rooms/{members.slug}/messages/"
    muted = _bearer(_token(bob)).post(url, {"body": "x"}, content_type="application/json")
    assert muted.status_code == 403 and muted.json()["error"] == "muted"
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "message": (1, 60.0)}
    client = _bearer(_token(alice))
    assert client.post(url, {"body": "1"}, content_type="application/json").status_code == 201
    limited = client.post(url, {"body": "2"}, content_type="application/json")
    assert limited.status_code == 429 and limited.json()["retry_after"] > 0
    assert int(limited["Retry-After"]) >= 1
    private = _bearer(_token(bob)).post(
        "/api/rooms/secret-plans/messages/", {"body": "x"}, content_type="application/json"
    )
    assert private.status_code in (403, 404)


def test_a_direct_room_through_the_api(alice, bob):
    response = _bearer(_token(alice)).post("/api/direct/bob/")
    assert response.status_code == 200 and response.json()["room"]["kind"] == "direct"
    assert _bearer(_token(alice)).post("/api/direct/nobody/").status_code == 404


# --- Sockets ---------------------------------------------------------------------------------


async def _socket(worker, slug: str, secret: str | None, *, origin=None, query: str = ""):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return await websockets.connect(
        f"ws://127.0.0.1:{worker.port}/ws/rooms/{slug}/{query}",
        additional_headers=headers,
        origin=origin,
        open_timeout=10,
    )


async def _first(sock) -> dict:
    return json.loads(await asyncio.wait_for(sock.recv(), 10))


async def _closed_with(sock) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(sock.recv(), 5)
    return closed.value.rcvd.code


@pytest.fixture
def workers(redis_layer, daphne):
    return daphne(), daphne()


async def test_a_token_opens_a_socket_without_an_origin_and_revoking_it_closes_it_everywhere(
    workers, alice, members
):
    one, two = workers
    secret = await sync_to_async(_token)(alice)
    sock = await _socket(two, members.slug, secret)
    assert (await _first(sock))["type"] == "ready"
    with pytest.raises(websockets.InvalidStatus) as foreign:
        await _socket(two, members.slug, secret, origin="http://evil.example")
    assert foreign.value.response.status_code == 403
    token = await sync_to_async(ApiToken.objects.get)()
    started = time.monotonic()
    await sync_to_async(tokens.revoke)(actor=alice, token_id=token.pk)
    assert await _closed_with(sock) == 4401
    assert time.monotonic() - started < 1.5
    again = await _socket(one, members.slug, secret)
    assert await _closed_with(again) == 4401


async def test_a_read_token_socket_reads_but_may_not_write(workers, alice, members):
    one, _ = workers
    secret = await sync_to_async(_token)(alice, "read")
    sock = await _socket(one, members.slug, secret)
    await _first(sock)
    for frame in (
        {"type": "message.send", "body": "x", "ref": "a"},
        {"type": "typing", "ref": "b"},
        {"type": "history", "ref": "c"},
    ):
        await sock.send(json.dumps(frame))
    answers = {}
    while len(answers) < 3:
        reply = json.loads(await asyncio.wait_for(sock.recv(), 5))
        if "ref" in reply:
            answers[reply["ref"]] = reply.get("code", reply["type"])
    assert answers == {"a": "forbidden", "b": "forbidden", "c": "history"}


async def test_a_token_in_the_socket_url_is_refused(workers, alice, members):
    one, _ = workers
    secret = await sync_to_async(_token)(alice)
    sock = await _socket(
        one, members.slug, None, origin=f"http://127.0.0.1:{one.port}", query=f"?token={secret}"
    )
    assert await _closed_with(sock) == 4401


async def test_a_ticket_opens_one_socket_once_from_another_site(workers, alice, members):
    one, two = workers
    secret = await sync_to_async(_token)(alice)
    response = await sync_to_async(lambda: _bearer(secret).post("/api/tickets/"))()
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    sock = await _socket(
        two, members.slug, None, origin="https://bot.example", query=f"?ticket={ticket}"
    )
    assert (await _first(sock))["me"]["username"] == "alice"
    used = await _socket(
        one, members.slug, None, origin="https://bot.example", query=f"?ticket={ticket}"
    )
    assert await _closed_with(used) == 4401
    session = await sync_to_async(lambda: _client(alice).post("/api/tickets/"))()
    assert session.status_code == 403  # pages of this site open sockets with their cookie


async def test_a_late_ticket_is_refused(redis_layer, daphne, alice, members, settings):
    settings.CHAT_TICKET_SECONDS = 0.5  # tickets are issued here
    worker = daphne()
    secret = await sync_to_async(_token)(alice)
    ticket = (await sync_to_async(lambda: _bearer(secret).post("/api/tickets/"))()).json()["ticket"]
    await asyncio.sleep(1.0)
    late = await _socket(
        worker, members.slug, None, origin="https://x.example", query=f"?ticket={ticket}"
    )
    assert await _closed_with(late) == 4401


async def test_a_message_posted_over_http_reaches_sockets_on_every_worker(
    workers, alice, bob, members
):
    one, two = workers
    on_one, on_two = await one.connect(bob, members.slug), await two.connect(alice, members.slug)
    secret = await sync_to_async(_token)(alice)
    response = await sync_to_async(
        lambda: _bearer(secret).post(
            f"/api/rooms/{members.slug}/messages/",
            {"body": "over HTTP"},
            content_type="application/json",
        )
    )()
    assert response.status_code == 201
    for sock in (on_one, on_two):
        assert (await sock.expect("message", timeout=2))["message"]["body"] == "over HTTP"


# --- Bots ------------------------------------------------------------------------------------


def test_a_bot_is_made_on_its_page_has_no_password_and_cannot_log_in(alice):
    client = _client(alice)
    assert (
        client.post("/settings/bots/", {"action": "create", "username": "build-bot"}).status_code
        == 302
    )
    bot = Bot.objects.select_related("user").get()
    assert bot.owner == alice and not bot.user.has_usable_password()
    login = Client().post("/accounts/login/", {"username": "build-bot", "password": ""})
    assert login.status_code == 200 and "_auth_user_id" not in Client().session
    page = client.post(
        "/settings/bots/",
        {"action": "token", "bot": "build-bot", "name": "ci", "scopes": ["read", "write"]},
    )
    assert page.context["new_token"].startswith("chat_")
    assert ApiToken.objects.get().user == bot.user
    taken = client.post("/settings/bots/", {"action": "create", "username": "alice"})
    assert b"taken" in taken.content
    assert _client(alice).get("/settings/bots/").status_code == 200


def test_only_its_owner_runs_a_bot(alice, bob):
    bots.create(owner=alice, username="helper")
    _client(bob).post("/settings/bots/", {"action": "deactivate", "username": "helper"})
    assert Bot.objects.get().user.is_active
    page = _client(bob).post(
        "/settings/bots/", {"action": "token", "bot": "helper", "name": "x", "scopes": ["read"]}
    )
    assert "new_token" not in page.context and not ApiToken.objects.exists()


async def test_a_bot_joins_like_a_person_is_marked_and_deactivating_it_closes_its_socket(
    workers, alice, members
):
    one, _ = workers
    bot = await sync_to_async(bots.create)(owner=alice, username="helper")
    secret = (
        await sync_to_async(tokens.create)(actor=alice, user=bot.user, name="b", scope="write")
    )[1]
    sock = await _socket(one, members.slug, secret)
    ready = await _first(sock)
    assert "helper" in ready["members"] and ready["bots"] == ["helper"]
    await sync_to_async(bots.set_active)(owner=alice, username="helper", active=False)
    assert await _closed_with(sock) == 4401


def test_staff_see_bots_and_their_owners_in_admin(make_user, alice):
    bots.create(owner=alice, username="helper")
    root = make_user("root", is_staff=True, is_superuser=True)
    page = _client(root).get("/admin/chat/bot/")
    assert page.status_code == 200 and b"helper" in page.content and b"alice" in page.content


def test_login_with_a_password_still_works_for_people(alice):
    assert (
        Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 302
    )
