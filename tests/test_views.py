"""Pages, accounts and the JSON API, through Django's test client."""

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from chat import messages, rooms
from chat.models import Membership, Room

from .conftest import PASSWORD


@pytest.fixture
def client_for():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def test_lobby_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signup_logs_in_and_redirects_to_the_lobby(client, db):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert get_user_model().objects.filter(username="newbie").exists()


def test_signup_with_mismatched_passwords_shows_the_form_again(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "x", "password1": PASSWORD, "password2": "other"}
    )
    assert response.status_code == 200 and b"password" in response.content.lower()
    assert not get_user_model().objects.filter(username="x").exists()


def test_login_honours_next(client, alice):
    response = client.post(
        "/accounts/login/?next=/rooms/general/", {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/rooms/general/"


def test_login_checks_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_logout_is_post_only(client_for, alice):
    client = client_for(alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_lobby_lists_public_and_my_private_rooms_with_unread_counts(
    client_for, alice, bob, carol, public_room, private_room
):
    rooms.open_room(user=bob, slug=public_room.slug)
    first, _ = messages.post(author=alice, room=public_room, body="one")
    messages.post(author=alice, room=public_room, body="two")
    messages.post(author=bob, room=public_room, body="mine don't count")
    hidden = rooms.create_room(creator=carol, name="Carol only", kind="private")
    messages.mark_read(user=bob, room=public_room, message_id=first.pk)
    listed = {e.slug: (e.kind, e.unread) for e in client_for(bob).get("/").context["conversations"]}
    assert listed == {public_room.slug: ("public", 1)}  # neither alice's nor carol's private room
    alice_rooms = [e.slug for e in client_for(alice).get("/").context["conversations"]]
    assert alice_rooms == [public_room.slug, private_room.slug] and hidden.slug not in alice_rooms


def test_create_room_makes_the_creator_owner(client_for, alice):
    response = client_for(alice).post("/rooms/new/", {"name": "Book club", "kind": "private"})
    room = Room.objects.get(name="Book club")
    assert response.status_code == 302 and response["Location"] == f"/rooms/{room.slug}/"
    assert room.kind == "private" and room.slug == "book-club"
    assert Membership.objects.get(room=room, user=alice).role == "owner"


def test_create_room_refuses_bad_input_with_a_form_error(client_for, alice):
    client = client_for(alice)
    assert client.post("/rooms/new/", {"name": "   ", "kind": "public"}).status_code == 400
    assert client.post("/rooms/new/", {"name": "x", "kind": "direct"}).status_code == 400
    assert not Room.objects.exists()


def test_room_slugs_stay_unique(client_for, alice):
    client = client_for(alice)
    client.post("/rooms/new/", {"name": "Same", "kind": "public"})
    client.post("/rooms/new/", {"name": "Same", "kind": "public"})
    first, second = sorted(Room.objects.values_list("slug", flat=True))
    assert first == "same" and second.startswith("same-") and len(second) == len("same-") + 6


def test_room_page_404_403_and_200(client_for, alice, bob, private_room, public_room):
    assert client_for(bob).get("/rooms/nowhere/").status_code == 404
    assert client_for(bob).get(f"/rooms/{private_room.slug}/").status_code == 403
    response = client_for(bob).get(f"/rooms/{public_room.slug}/")
    assert response.status_code == 200
    assert Membership.objects.filter(room=public_room, user=bob).exists()


def test_the_owner_adds_members_to_a_private_room(client_for, alice, bob, private_room):
    response = client_for(alice).post(f"/rooms/{private_room.slug}/members/", {"username": "bob"})
    assert response.status_code == 302
    assert client_for(bob).get(f"/rooms/{private_room.slug}/").status_code == 200


def test_an_ordinary_member_cannot_add_members(client_for, alice, bob, carol, public_room):
    rooms.open_room(user=bob, slug=public_room.slug)
    response = client_for(bob).post(f"/rooms/{public_room.slug}/members/", {"username": "carol"})
    assert response.status_code == 403
    assert not Membership.objects.filter(room=public_room, user=carol).exists()


def test_adding_an_unknown_user_says_so(client_for, alice, private_room):
    response = client_for(alice).post(
        f"/rooms/{private_room.slug}/members/", {"username": "nobody"}, follow=True
    )
    assert b"No user called" in response.content


def _api(client, slug, **params):
    response = client.get(f"/api/rooms/{slug}/messages/", params)
    return response.status_code, json.loads(response.content)


def test_api_messages_pages_like_the_socket(client_for, alice, public_room):
    ids = [messages.post(author=alice, room=public_room, body=f"m{n}")[0].pk for n in range(5)]
    client = client_for(alice)
    status, data = _api(client, public_room.slug)
    assert status == 200 and [m["body"] for m in data["messages"]] == [f"m{n}" for n in range(5)]
    assert data["has_more"] is False
    assert data["messages"][0]["author"] == "alice" and data["messages"][0]["room"] == "general"
    _, data = _api(client, public_room.slug, limit=2)
    assert [m["body"] for m in data["messages"]] == ["m3", "m4"] and data["has_more"] is True
    _, data = _api(client, public_room.slug, before=ids[2], limit=1)
    assert [m["body"] for m in data["messages"]] == ["m1"] and data["has_more"] is True
    _, data = _api(client, public_room.slug, after=ids[2])
    assert [m["body"] for m in data["messages"]] == ["m3", "m4"] and data["has_more"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"before": "-1"},
        {"after": "9" * 40},
        {"before": "1", "after": "2"},
    ],
)
def test_api_messages_refuses_bad_parameters_clearly(client_for, alice, public_room, params):
    status, data = _api(client_for(alice), public_room.slug, **params)
    assert status == 400 and data["error"] == "invalid" and data["message"]


def test_api_messages_access(client, client_for, bob, private_room):
    assert _api(client, private_room.slug)[0] == 401
    assert _api(client_for(bob), private_room.slug) == (
        403,
        {"error": "forbidden", "message": "This room is for its members only."},
    )
    assert _api(client_for(bob), "nowhere")[0] == 404


def test_healthz_reports_database_and_channel_layer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_logout_closes_that_sessions_sockets_only(open_socket, alice, public_room):
    from .conftest import session_cookie

    phone_cookie = await sync_to_async(session_cookie)(alice)
    laptop = Client()
    await sync_to_async(laptop.force_login)(alice)
    on_laptop = await open_socket(alice, public_room.slug, cookie=laptop.cookies["sessionid"].value)
    on_phone = await open_socket(alice, public_room.slug, cookie=phone_cookie)
    response = await sync_to_async(laptop.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await on_laptop.expect_close(timeout=1) == 4401
    await on_phone.roundtrip()
