"""Rich text rendered once by the server, replies, reactions and pages around a message."""

from datetime import timedelta
from importlib import import_module

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.apps import apps
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import blocks, messages, moderation, richtext, rooms
from chat.models import Message, Reaction

pytestmark = pytest.mark.django_db(transaction=True)


# --- Rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("**bold** and _em_", "<p><strong>bold</strong> and <em>em</em></p>"),
        ("`code` ~~gone~~", "<p><code>code</code> <s>gone</s></p>"),
        ("```py\nprint(1)\n```", '<pre><code class="language-py">print(1)\n</code></pre>'),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("# not a heading", "<p># not a heading</p>"),
        ("聊天 😀", "<p>聊天 😀</p>"),
    ],
)
def test_markdown_renders_to_safe_html(body, html):
    assert richtext.render(body) == html


# Text a chat line is made of: Latin and Chinese letters, digits, punctuation of both, the
# spaces and line breaks that decide paragraphs; and, less often, what Markdown reacts to.
PLAIN = list("ab xyZ09  \n\n.,;!?()'\"#=|{}%$/你好聊天室，。！？“”（）、😀")
MARKUP = list("-+>*_~`[]<>&@:\t\u3000\u00a0\r\x01\x85")
CHAT_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(PLAIN), max_size=40),
    st.text(alphabet=st.sampled_from(PLAIN + MARKUP), max_size=40),
)


@settings(max_examples=2000, deadline=None)
@given(CHAT_TEXT.map(str.strip))
def test_the_plain_text_shortcut_renders_what_markdown_does(body):
    """`render` skips Markdown for plain text; whatever it lets through must come out as the
    full path makes it, byte for byte."""
    shortcut = richtext._plain(body)
    if shortcut is not None:
        assert shortcut == richtext.render_markdown(body)


@pytest.mark.parametrize(
    "body",
    ["好的，周六见", "see you at 3 (ok?)", "one\ntwo  \nthree", "para one\n\npara two", '"quoted"'],
)
def test_common_chat_lines_take_the_shortcut(body):
    assert richtext._plain(body) is not None
    assert richtext.render(body) == richtext.render_markdown(body)


def test_links_are_http_https_or_mailto_and_open_elsewhere_without_a_referrer():
    html = richtext.render("see https://example.com or [mail](mailto:a@b.example) [f](ftp://x)")
    assert html.count("<a href=") == 2 and 'href="ftp' not in html
    for href in ('href="https://example.com"', 'href="mailto:a@b.example"'):
        assert f'{href} target="_blank" rel="nofollow noopener noreferrer"' in html


def test_mentions_of_members_are_marked_and_never_in_code_or_links():
    html = richtext.render("@bob and @nobody, `@bob`, [@bob](https://x.example)", {"bob"})
    assert html.count('<span class="mention" data-user="bob">@bob</span>') == 1
    assert "@nobody" in html and 'data-user="nobody"' not in html


async def test_a_message_carries_its_html_in_every_frame_and_an_edit_renders_again(
    open_socket, alice, bob, members
):
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="**hi** @alice")
    sent = (await b.expect("message"))["message"]
    assert sent["html"] == (
        '<p><strong>hi</strong> <span class="mention" data-user="alice">@alice</span></p>'
    )
    await b.send("message.edit", id=sent["id"], body="_changed_")
    edited = (await b.expect("message.edited"))["message"]
    assert edited["html"] == "<p><em>changed</em></p>" and edited["body"] == "_changed_"
    await b.send("history")
    assert (await b.expect("history"))["messages"][-1]["html"] == "<p><em>changed</em></p>"


def test_the_migration_renders_existing_messages(alice, members):
    old = Message.objects.create(room=members, author=alice, body="**old** @bob")
    migration = import_module("chat.migrations.0005_rich_messages")
    migration.render_existing(apps, None)
    old.refresh_from_db()
    assert old.html == (
        '<p><strong>old</strong> <span class="mention" data-user="bob">@bob</span></p>'
    )


# --- Replies ---------------------------------------------------------------------------------


async def test_a_reply_quotes_its_original_and_survives_its_deletion(
    open_socket, alice, bob, members
):
    original, _ = await sync_to_async(messages.post)(
        author=alice, room=members, body="Where   shall we\nmeet?"
    )
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="At noon", reply_to=original.pk)
    reply = (await b.expect("message"))["message"]
    assert reply["reply_to"] == {
        "id": original.pk,
        "author": "alice",
        "excerpt": "Where shall we meet?",
    }
    await sync_to_async(messages.delete)(actor=alice, room=members, message_id=original.pk)
    await b.recv_type("message.deleted")
    await b.send("history")
    [kept] = (await b.expect("history"))["messages"]
    assert kept["reply_to"] == {"id": original.pk, "author": None, "excerpt": None}


async def test_a_reply_must_answer_a_message_of_this_room(
    open_socket, alice, bob, members, private_room
):
    elsewhere, _ = await sync_to_async(messages.post)(author=alice, room=private_room, body="x")
    b = await open_socket(bob, members.slug)
    for reply_to, code in ((elsewhere.pk, "not_found"), (999_999, "not_found"), ("1", "invalid")):
        await b.send("message.send", body="hm", reply_to=reply_to)
        assert (await b.expect("error"))["code"] == code
    assert await sync_to_async(Message.objects.filter(room=members).count)() == 0


async def test_history_around_a_message_centres_the_page_on_it(open_socket, alice, members):
    ids = [
        (await sync_to_async(messages.post)(author=alice, room=members, body=f"m{n}"))[0].pk
        for n in range(20)
    ]
    a = await open_socket(alice, members.slug)
    await a.send("history", around=ids[10], limit=6)
    page = await a.expect("history")
    assert [m["id"] for m in page["messages"]] == ids[7:13]
    assert page["has_more"] and page["has_more_after"]
    await a.send("history", around=ids[1], limit=6)
    page = await a.expect("history")
    assert [m["id"] for m in page["messages"]] == ids[0:4]
    assert not page["has_more"] and page["has_more_after"]
    await a.send("history", around=ids[1], before=ids[5])
    assert (await a.expect("error"))["code"] == "invalid"


# --- Reactions -------------------------------------------------------------------------------


async def test_a_reaction_reaches_the_other_member_live_and_stays_in_history(
    open_socket, alice, bob, members
):
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="lunch?")
    a = await open_socket(alice, members.slug)
    b = await open_socket(bob, members.slug)
    await b.send("reaction.add", id=message.pk, emoji="👍")
    heard = await a.expect("message.reactions")
    assert heard == {
        "type": "message.reactions",
        "id": message.pk,
        "reactions": [{"emoji": "👍", "users": ["bob"]}],
    }
    await a.send("reaction.add", id=message.pk, emoji="👍")
    await a.send("reaction.add", id=message.pk, emoji="🎉")
    await a.send("reaction.add", id=message.pk, emoji="👍")  # again: nothing changes
    for _ in range(3):
        last = await b.expect("message.reactions")
        await a.expect("message.reactions")
    assert last["reactions"] == [
        {"emoji": "👍", "users": ["bob", "alice"]},
        {"emoji": "🎉", "users": ["alice"]},
    ]
    await b.send("reaction.remove", id=message.pk, emoji="👍")
    assert (await a.expect("message.reactions"))["reactions"][0]["users"] == ["alice"]
    again = await open_socket(bob, members.slug)
    [shown] = again.ready["messages"]
    assert shown["reactions"] == [
        {"emoji": "👍", "users": ["alice"]},
        {"emoji": "🎉", "users": ["alice"]},
    ]


@pytest.mark.parametrize("emoji", ["a", "👍👍", "", "x" * 33, "👍 ", 5])
async def test_a_reaction_is_one_emoji(open_socket, alice, members, emoji):
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    a = await open_socket(alice, members.slug)
    await a.send("reaction.add", id=message.pk, emoji=emoji)
    assert (await a.expect("error"))["code"] in {"invalid", "too_long"}
    assert not await sync_to_async(Reaction.objects.exists)()


@pytest.mark.parametrize("emoji", ["👍🏽", "👨‍👩‍👧", "🇨🇳", "❤️"])
async def test_skin_tones_families_and_flags_are_one_emoji(open_socket, alice, members, emoji):
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    a = await open_socket(alice, members.slug)
    await a.send("reaction.add", id=message.pk, emoji=emoji)
    assert (await a.expect("message.reactions"))["reactions"][0]["emoji"] == emoji


async def test_a_message_holds_at_most_twenty_different_emoji(
    open_socket, alice, members, settings
):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "reaction": (100, 1.0)}
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    a = await open_socket(alice, members.slug)
    faces = [chr(0x1F600 + n) for n in range(21)]
    for face in faces[:20]:
        await a.send("reaction.add", id=message.pk, emoji=face)
        await a.expect("message.reactions")
    await a.send("reaction.add", id=message.pk, emoji=faces[20])
    assert (await a.expect("error"))["code"] == "too_long"


async def test_reactions_follow_the_rules_of_sending(open_socket, staff, alice, bob, members):
    """Muted, an announcement room, a rate limit: as for `message.send`."""
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    b = await open_socket(bob, members.slug)
    await sync_to_async(moderation.mute)(
        actor=staff, room=members, user=bob, until=timezone.now() + timedelta(hours=1)
    )
    await b.send("reaction.add", id=message.pk, emoji="👍")
    assert (await b.expect("error"))["code"] == "muted"
    await sync_to_async(moderation.unmute)(actor=staff, room=members, user=bob)
    await sync_to_async(moderation.set_posting)(actor=alice, room=members, posting="moderators")
    await b.send("reaction.add", id=message.pk, emoji="👍")
    assert (await b.expect("error"))["code"] == "forbidden"
    assert not await sync_to_async(Reaction.objects.exists)()


async def test_reactions_are_rate_limited(open_socket, alice, members, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "reaction": (3, 60.0)}
    message, _ = await sync_to_async(messages.post)(author=alice, room=members, body="x")
    a = await open_socket(alice, members.slug)
    for face in ("👍", "🎉", "😀"):
        await a.send("reaction.add", id=message.pk, emoji=face)
        await a.expect("message.reactions")
    await a.send("reaction.add", id=message.pk, emoji="😂")
    assert (await a.expect("error"))["code"] == "rate_limited"


async def test_a_blocked_person_cannot_react_in_the_direct_room(open_socket, alice, bob):
    direct = await sync_to_async(rooms.direct_room)(user=alice, other=bob)
    message, _ = await sync_to_async(messages.post)(author=alice, room=direct, body="hi")
    await sync_to_async(blocks.block)(blocker=alice, username="bob")
    b = await open_socket(bob, direct.slug)
    await b.send("reaction.add", id=message.pk, emoji="👍")
    assert (await b.expect("error"))["code"] == "forbidden"
