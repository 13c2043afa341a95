"""Search in Chinese and English, on whichever database runs the suite (SQLite here, PostgreSQL
in the CI's second pass): what it finds, where it may look, bad queries, pages."""

import pytest
from django.test import Client

from chat import messages, moderation, rooms, search, tokens

pytestmark = pytest.mark.django_db(transaction=True)


def _find(user, q: str, **params) -> list[str]:
    response = _get(user, q, **params)
    assert response.status_code == 200, response.content
    return [message["body"] for message in response.json()["messages"]]


def _get(user, q: str, **params):
    client = Client()
    client.force_login(user)
    return client.get("/api/search/", {"q": q, **params})


@pytest.fixture
def talk(alice, members):
    bodies = [
        "大家好，我们聊天吧",
        "聊天室明天见",
        "聊 天 室 are three words here",
        "Sockets and WebSockets",
        "the websocket dropped again",
        "Meet @bob at https://example.com/docs/setup",
        "完全不同的内容",
    ]
    for body in bodies:
        messages.post(author=alice, room=members, body=body)
    return members


# --- The tokenizer ---------------------------------------------------------------------------


def test_the_tokenizer_indexes_words_and_chinese_pairs_and_characters():
    assert search.index_text("Hello, 聊天室!") == "hello 聊天 天室 聊 天 室"
    assert search.index_text("ＷｅｂＳｏｃｋｅｔ") == "websocket"  # NFKC, case folded
    assert [term.parts for term in search.terms("好 聊天 聊天室 Sock")] == [
        ("好",),
        ("聊天",),
        ("聊天", "天室"),
        ("sock",),
    ]
    assert [term.text for term in search.terms("聊天室 ＳＯＣＫ")] == ["聊天室", "sock"]
    assert search.terms("!!! ... ---") == []


# --- What it finds ---------------------------------------------------------------------------


def test_one_and_two_chinese_characters_find_the_messages_that_contain_them(alice, talk):
    assert _find(alice, "好") == ["大家好，我们聊天吧"]
    assert _find(alice, "聊天") == ["聊天室明天见", "大家好，我们聊天吧"]  # newest first


def test_a_longer_chinese_query_matches_its_pairs_in_order(alice, talk):
    assert _find(alice, "聊天室") == ["聊天室明天见"]  # not "聊 天 室" apart, nor pairs elsewhere
    assert _find(alice, "天室明") == ["聊天室明天见"]


def test_english_words_match_by_prefix_and_case_insensitively(alice, talk):
    assert _find(alice, "sock") == ["Sockets and WebSockets"]
    assert _find(alice, "WEBSOCKET") == ["the websocket dropped again", "Sockets and WebSockets"]
    assert _find(alice, "socket again") == []  # every word must occur
    assert _find(alice, "websocket again") == ["the websocket dropped again"]


def test_mentions_and_link_targets_are_searchable(alice, talk):
    assert _find(alice, "@bob") == ["Meet @bob at https://example.com/docs/setup"]
    assert _find(alice, "example.com setup") == ["Meet @bob at https://example.com/docs/setup"]


def test_mixed_chinese_and_english(alice, talk):
    assert _find(alice, "聊 words") == ["聊 天 室 are three words here"]


# --- Where it may look -----------------------------------------------------------------------


def test_only_rooms_i_may_open_now_and_never_deleted_messages(
    alice, bob, carol, members, private_room, staff
):
    messages.post(author=alice, room=private_room, body="secret 秘密 plan")
    visible, _ = messages.post(author=alice, room=members, body="public 秘密 plan")
    gone, _ = messages.post(author=alice, room=members, body="deleted 秘密 plan")
    messages.delete(actor=alice, room=members, message_id=gone.pk)
    assert _find(bob, "秘密") == ["public 秘密 plan"]
    assert _find(alice, "秘密") == ["public 秘密 plan", "secret 秘密 plan"]
    moderation.ban(actor=staff, room=members, user=bob)
    assert _find(bob, "秘密") == []
    rooms.add_member(actor=alice, room=private_room, username="carol")
    assert _find(carol, "秘密") == ["public 秘密 plan", "secret 秘密 plan"]
    assert visible.pk  # a room filter narrows it
    assert _find(carol, "plan", room=private_room.slug) == ["secret 秘密 plan"]


def test_an_edit_is_found_by_its_new_words_only(alice, members):
    message, _ = messages.post(author=alice, room=members, body="orange 橙子")
    messages.edit(actor=alice, room=members, message_id=message.pk, body="banana 香蕉")
    assert _find(alice, "orange") == [] and _find(alice, "橙子") == []
    assert _find(alice, "bana") == ["banana 香蕉"] and _find(alice, "香蕉") == ["banana 香蕉"]


# --- Bad queries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "params", "status", "code"),
    [
        ("", {}, 400, "invalid"),
        ("   ", {}, 400, "invalid"),
        ("x" * 201, {}, 400, "too_long"),
        ("plan", {"before": "abc"}, 400, "invalid"),
        ("plan", {"before": "-1"}, 400, "invalid"),
        ("plan", {"limit": "101"}, 400, "invalid"),
        ("plan", {"room": "nowhere"}, 404, "not_found"),
        ("plan", {"room": "secret-plans"}, 403, "forbidden"),
    ],
)
def test_bad_queries_get_a_clear_error(bob, private_room, q, params, status, code):
    response = _get(bob, q, **params)
    assert response.status_code == status and response.json()["error"] == code


@pytest.mark.parametrize(
    "q", ['"', "*", ":", "&", "|", "!", "NEAR", "(", "a OR b", "a:*", "'", "-x", "\\", "!!!"]
)
def test_search_syntax_of_either_engine_is_only_text(alice, talk, q):
    response = _get(alice, q)
    assert response.status_code == 200
    assert isinstance(response.json()["messages"], list)


def test_pages_go_back_with_before_until_has_more_is_false(alice, members):
    for n in range(7):
        messages.post(author=alice, room=members, body=f"page item {n}")
    first = _get(alice, "item", limit=3).json()
    assert [m["body"] for m in first["messages"]] == ["page item 6", "page item 5", "page item 4"]
    assert first["has_more"]
    seen = [m["body"] for m in first["messages"]]
    before = first["messages"][-1]["id"]
    while True:
        page = _get(alice, "item", limit=3, before=before).json()
        seen += [m["body"] for m in page["messages"]]
        if not page["has_more"]:
            break
        before = page["messages"][-1]["id"]
    assert seen == [f"page item {n}" for n in range(6, -1, -1)]


def test_a_read_token_may_search_and_logged_out_may_not(alice, talk):
    secret = tokens.create(actor=alice, user=alice, name="r", scope="read")[1]
    response = Client(headers={"Authorization": f"Bearer {secret}"}).get(
        "/api/search/", {"q": "聊天"}
    )
    assert response.status_code == 200 and len(response.json()["messages"]) == 2
    assert response.json()["terms"] == ["聊天"]
    assert Client().get("/api/search/", {"q": "聊天"}).status_code == 401


def test_searches_and_history_pages_over_http_have_rate_limits(settings, alice, talk):
    settings.CHAT_RATE_LIMITS = {
        **settings.CHAT_RATE_LIMITS,
        "search": (2, 60.0),
        "history": (1, 60.0),
    }
    client = Client()
    client.force_login(alice)
    assert client.get("/api/search/", {"q": "好"}).status_code == 200
    assert client.get("/api/search/", {"q": "好"}).status_code == 200
    refused = client.get("/api/search/", {"q": "好"})
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    history = f"/api/rooms/{talk.slug}/messages/"
    assert client.get(history).status_code == 200
    assert client.get(history).status_code == 429
