"""Conversations side by side, in a real browser: the sidebar's live unread counts, switching
rooms in place (one room socket, the back button), replies, reactions, Markdown, the phone's
drawer, and the README's screenshots (with Chinese text: Debian's fonts-noto-cjk and
fonts-noto-color-emoji, `make system-deps`).

Self-contained like test_chat_browser.py: its own SQLite file, in-memory channel layer and
Daphne process on a free port, Chromium driven by Playwright's sync API. Run it in a process of
its own: `pytest -m browser tests`.
"""

import re
import time

import pytest
from playwright.sync_api import WebSocket, expect

from .helpers import (
    ROOT,
    WAIT_MS,
    Site,
    User,
    create_room,
    expect_connected,
    log_in,
    manage,
    say,
    sidebar_entry,
    slug_of,
)

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-sidebar-pass-17", "bob": "bob-sidebar-pass-17"}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "docs"


def _body(user: User, text: str):
    """The text of a message of the log (not a reply's quote of it)."""
    return user.page.locator("#messages .msg-body").filter(has_text=text)


def _message(user: User, text: str):
    """The message whose own text holds `text`."""
    return user.page.locator("#messages > li").filter(
        has=user.page.locator(".msg-body").filter(has_text=text)
    )


def _watch_sockets(user: User) -> list[WebSocket]:
    """The sockets the page opens from now on (until it loads another document)."""
    opened: list[WebSocket] = []
    user.page.on("websocket", lambda ws: opened.append(ws))
    return opened


def _expect_one_socket(user: User, opened: list[WebSocket], slug: str) -> None:
    """Exactly one of those sockets is open, on room `slug`: switching closed the others."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        still_open = [ws.url for ws in opened if not ws.is_closed()]
        if len(still_open) == 1 and still_open[0].endswith(f"/ws/rooms/{slug}/"):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{user.name}'s open sockets: {still_open}, expected one on {slug}")
        user.page.wait_for_timeout(100)


def _seed(site: Site, script: str) -> None:
    """Run `script` in the site's own Django (what the server's services store is what a
    client would have stored; nothing is broadcast to the running server)."""
    prelude = "\n".join(
        [
            "from django.contrib.auth import get_user_model",
            "from chat import messages, moderation, reactions, rooms",
            "from chat.models import Room",
            "User = get_user_model()",
            "alice = User.objects.get(username='alice')",
            "bob = User.objects.get(username='bob')",
        ]
    )
    manage(site.env, "shell", "-c", f"{prelude}\n{script}")


def test_the_sidebar_counts_live_and_switching_rooms_keeps_one_socket(site, alice, bob):
    base = site.base
    garden = create_room(alice, base, "Garden")
    kitchen = create_room(alice, base, "Kitchen")
    kitchen_slug, garden_slug = slug_of(kitchen), slug_of(garden)
    for url in (garden, kitchen):  # bob joins both
        bob.page.goto(url)
        expect_connected(bob)

    opened = _watch_sockets(alice)
    alice.page.goto(garden)
    expect_connected(alice)
    alice.page.evaluate("window.__samePage = true")
    entry = sidebar_entry(alice, kitchen_slug)
    expect(entry.locator(".badge")).to_be_hidden()

    # Bob posts in the kitchen: alice's count rises live, a mention of her stands out.
    say(bob, "Anyone in the kitchen?")
    say(bob, "The soup is ready")
    expect(entry.locator(".badge-count")).to_have_text("2", timeout=WAIT_MS)
    expect(entry).to_have_class(re.compile(r"\bis-unread\b"))
    expect(entry).not_to_have_class(re.compile(r"\bis-mention\b"))
    say(bob, "@alice come and taste it")
    expect(entry.locator(".badge-count")).to_have_text("3", timeout=WAIT_MS)
    expect(entry).to_have_class(re.compile(r"\bis-mention\b"))
    expect(alice.page).to_have_title("(3) #Garden · Chat", timeout=WAIT_MS)

    # She opens it from the sidebar: in place, the count clears, one room socket.
    entry.get_by_role("link").click()
    expect(alice.page).to_have_url(kitchen, timeout=WAIT_MS)
    expect(alice.page.locator("#room-name")).to_have_text("Kitchen")
    expect_connected(alice)
    expect(_message(alice, "The soup is ready")).to_have_count(1, timeout=WAIT_MS)
    expect(_message(alice, "come and taste it")).to_have_class(re.compile(r"\bis-mention\b"))
    expect(entry.locator(".badge")).to_be_hidden()
    expect(entry.get_by_role("link")).to_have_attribute("aria-current", "page")
    expect(sidebar_entry(alice, garden_slug).get_by_role("link")).not_to_have_attribute(
        "aria-current", "page"
    )
    expect(alice.page).to_have_title("#Kitchen · Chat", timeout=WAIT_MS)
    _expect_one_socket(alice, opened, kitchen_slug)

    # The back button returns to the garden, in place too; forward goes to the kitchen again.
    alice.page.go_back()
    expect(alice.page).to_have_url(garden, timeout=WAIT_MS)
    expect(alice.page.locator("#room-name")).to_have_text("Garden")
    expect_connected(alice)
    _expect_one_socket(alice, opened, garden_slug)
    alice.page.go_forward()
    expect(alice.page).to_have_url(kitchen, timeout=WAIT_MS)
    expect(alice.page.locator("#room-name")).to_have_text("Kitchen")
    expect(_message(alice, "The soup is ready")).to_have_count(1, timeout=WAIT_MS)
    _expect_one_socket(alice, opened, kitchen_slug)
    assert alice.page.evaluate("window.__samePage") is True

    # What was sent in the kitchen while alice was away from it reaches her in the garden.
    alice.page.go_back()
    expect_connected(alice)
    say(bob, "Seconds, anyone?")
    expect(entry.locator(".badge-count")).to_have_text("1", timeout=WAIT_MS)

    # A reload shows the room the address names.
    alice.page.reload()
    expect(alice.page.locator("#room-name")).to_have_text("Garden", timeout=WAIT_MS)
    expect_connected(alice)
    expect(entry.locator(".badge-count")).to_have_text("1")
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_reply_quotes_its_original_and_the_quote_shows_it(site, alice, bob):
    base = site.base
    url = create_room(alice, base, "Long thread")
    slug = slug_of(url)
    bob.page.goto(url)
    expect_connected(bob)
    # A question, sixty notes after it, and bob's answer to the question: more than `ready`
    # brings, so the question is not on the page until asked for.
    _seed(
        site,
        f"room = Room.objects.get(slug={slug!r})\n"
        "question = 'Where shall we plant the tomatoes?'\n"
        "first, _ = messages.post(author=alice, room=room, body=question)\n"
        "for i in range(60):\n"
        "    messages.post(author=alice, room=room, body=f'Note {i}: the soil is ready')\n"
        "messages.post(author=bob, room=room, body='By the south fence.', reply_to=first.pk)\n",
    )
    alice.page.reload()
    expect_connected(alice)
    answer = _message(alice, "By the south fence")
    expect(answer).to_have_count(1, timeout=WAIT_MS)
    quote = answer.locator(".msg-reply")
    expect(quote).to_contain_text("alice")
    expect(quote).to_contain_text("Where shall we plant the tomatoes?")
    question = _message(alice, "Where shall we plant")
    expect(question).to_have_count(0)

    # A click on the quote loads the messages around the original and shows it.
    quote.click()
    expect(question).to_have_count(1, timeout=WAIT_MS)
    expect(question).to_be_in_viewport()
    expect(question).to_have_class(re.compile(r"\bis-focused\b"))
    # Back to the present.
    latest = alice.page.locator("#jump-latest")
    expect(latest).to_be_visible()
    latest.click()
    expect(answer).to_be_in_viewport(timeout=WAIT_MS)

    # Bob replies from the page: the reply bar, then the quote, live on both pages.
    bob.page.reload()
    expect_connected(bob)
    note = _message(bob, "Note 59")
    note.hover()
    note.get_by_role("button", name="Reply to this message").click()
    bar = bob.page.locator("#reply-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Replying to alice")
    expect(bar).to_contain_text("Note 59: the soil is ready")
    say(bob, "Then we plant on Sunday")
    expect(bar).to_be_hidden()
    for user in (alice, bob):
        reply = _message(user, "Then we plant on Sunday")
        expect(reply).to_have_count(1, timeout=WAIT_MS)
        expect(reply.locator(".msg-reply")).to_contain_text("Note 59: the soil is ready")
    alice.page.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    _message(alice, "Then we plant on Sunday").locator(".msg-reply").click()
    expect(_message(alice, "Note 59")).to_be_in_viewport(timeout=WAIT_MS)
    expect(_message(alice, "Note 59")).to_have_class(re.compile(r"\bis-focused\b"))
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_reaction_shows_live_for_the_other_user(site, alice, bob):
    url = create_room(alice, site.base, "Lunch")
    bob.page.goto(url)
    expect_connected(bob)
    say(alice, "Lunch at noon?")

    mine = _message(bob, "Lunch at noon?")
    expect(mine).to_have_count(1, timeout=WAIT_MS)
    mine.hover()
    mine.locator(".msg-actions").get_by_role("button", name="Add a reaction").click()
    picker = bob.page.get_by_role("dialog", name="Add a reaction")
    expect(picker).to_be_visible()
    picker.get_by_role("button", name="React with 👍").click()
    expect(picker).to_be_hidden()

    # Alice sees it at once: the count, who (on hover), not hers.
    theirs = _message(alice, "Lunch at noon?").locator(".reaction", has_text="👍")
    expect(theirs).to_have_count(1, timeout=WAIT_MS)
    expect(theirs.locator(".reaction-count")).to_have_text("1")
    expect(theirs).to_have_attribute("title", "bob")
    expect(theirs).to_have_attribute("aria-pressed", "false")
    # Bob's own is highlighted.
    his = mine.locator(".reaction", has_text="👍")
    expect(his).to_have_class(re.compile(r"\bis-mine\b"), timeout=WAIT_MS)
    expect(his).to_have_attribute("aria-pressed", "true")

    # Alice adds hers by clicking it; bob takes his back the same way.
    theirs.click()
    expect(theirs.locator(".reaction-count")).to_have_text("2", timeout=WAIT_MS)
    expect(his).to_have_attribute("title", "bob and alice", timeout=WAIT_MS)
    his.click()
    expect(theirs.locator(".reaction-count")).to_have_text("1", timeout=WAIT_MS)
    expect(theirs).to_have_attribute("title", "alice")
    expect(his).not_to_have_class(re.compile(r"\bis-mine\b"), timeout=WAIT_MS)

    # The picker remembers it among the recent ones, first.
    recent = bob.page.evaluate("localStorage.getItem('chat.recent-emoji')")
    assert recent is not None and recent.startswith('["👍"'), recent
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_markdown_renders_and_markup_stays_text(site, alice, bob):
    url = create_room(alice, site.base, "Formatting")
    bob.page.goto(url)
    expect_connected(bob)

    say(alice, "**bold** and `code` <script>window.__xss=1</script>")
    body = _body(bob, "bold and code")
    expect(body).to_have_count(1, timeout=WAIT_MS)
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.locator("code")).to_have_text("code")
    expect(body).to_contain_text("<script>window.__xss=1</script>")
    assert bob.page.locator("#messages script").count() == 0
    assert bob.page.evaluate("typeof window.__xss") == "undefined"

    # Enter inside an open ``` fence is a new line; after the closing fence it sends.
    composer = alice.page.locator("#composer-input")
    composer.fill("```python")
    composer.press("Enter")
    composer.press_sequentially("print('hi')")
    composer.press("Enter")
    composer.press_sequentially("```")
    expect(composer).to_have_value("```python\nprint('hi')\n```")
    composer.press("Enter")
    expect(composer).to_have_value("")
    code = bob.page.locator("#messages pre code")
    expect(code).to_have_count(1, timeout=WAIT_MS)
    expect(code).to_have_text("print('hi')")
    # Shift+Enter is a new line anywhere.
    composer.fill("two")
    composer.press("Home")
    composer.press("Shift+Enter")
    expect(composer).to_have_value("\ntwo")
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_phone_sized_screen_opens_the_sidebar_as_a_drawer(browser, site):
    _seed(
        site,
        "for name in ('Phone one', 'Phone two'):\n"
        "    rooms.create_room(creator=alice, name=name, kind='public')\n",
    )
    phone = log_in(browser, site.base, "alice", PASSWORDS["alice"], viewport=PHONE)
    try:
        page = phone.page
        sidebar = page.locator("#sidebar")
        toggle = page.get_by_role("button", name="Conversations", exact=True)
        expect(sidebar).not_to_be_in_viewport()
        toggle.click()
        expect(sidebar).to_be_in_viewport()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        # Escape closes it.
        page.keyboard.press("Escape")
        expect(sidebar).not_to_be_in_viewport()
        expect(toggle).to_have_attribute("aria-expanded", "false")

        # From the home page, a room opens as a page; the drawer is closed there.
        toggle.click()
        sidebar.get_by_role("link", name="Phone one").click()
        expect(page.locator("#room-name")).to_have_text("Phone one", timeout=WAIT_MS)
        expect_connected(phone)
        expect(sidebar).not_to_be_in_viewport()
        expect(page.locator("#composer-input")).to_be_in_viewport()

        # From a room, another opens in place, and the drawer closes.
        opened = _watch_sockets(phone)
        page.reload()
        expect_connected(phone)
        toggle.click()
        expect(sidebar).to_be_in_viewport()
        second = sidebar.get_by_role("link", name="Phone two")
        slug = slug_of(second.get_attribute("href"))
        page.evaluate("window.__samePage = true")
        second.click()
        expect(page).to_have_url(f"{site.base}/rooms/{slug}/", timeout=WAIT_MS)
        expect(page.locator("#room-name")).to_have_text("Phone two")
        expect(sidebar).not_to_be_in_viewport()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect_connected(phone)
        _expect_one_socket(phone, opened, slug)
        assert page.evaluate("window.__samePage") is True
        phone.assert_no_script_errors()
    finally:
        phone.page.context.close()


def test_screenshots_for_the_readme(browser, site, alice, bob):
    """docs/screenshot-desktop.png and docs/screenshot-phone.png: a room in Chinese, with a
    reply, reactions, code and the sidebar's counts; docs/screenshot-zh.png: the same with the
    Chinese interface."""
    # The rooms and what was said in them, stored by the server's own services.
    _seed(
        site,
        "\n".join(
            [
                "plan = rooms.create_room(creator=alice, name='周末计划', kind='public')",
                "moderation.set_topic(actor=alice, room=plan, topic='周六爬山，周日野餐 🌲')",
                "review = rooms.create_room(creator=alice, name='设计评审', kind='private')",
                "general = rooms.create_room(creator=alice, name='general', kind='public')",
                "for room in (plan, general):",
                "    rooms.open_room(user=bob, slug=room.slug)",
                "direct = rooms.direct_room(user=alice, other=bob)",
                "def say(who, room, body, **more):",
                "    return messages.post(author=who, room=room, body=body, **more)[0]",
                "hello = say(bob, plan, '大家好！周六去爬山吗？🏔️')",
                "yes = say(alice, plan, '好啊！我带**地图**和零食 🍎')",
                "weather = say(bob, plan, '天气预报说周六晴天 ☀️，早上八点在山脚见？')",
                "ok = say(alice, plan, '八点可以 👍 我开车去接你', reply_to=weather.pk)",
                "messages.mark_read(user=alice, room=plan, message_id=ok.pk)",
                "say(bob, plan, '路线在这里：\\n```\\n山脚 → 观景台 → 山顶（约 3 小时）\\n```')",
                "say(alice, plan, '记得带水，山上没有商店 💧')",
                "reactions.react(user=alice, room=plan, message_id=hello.pk, emoji='🎉', add=True)",
                "reactions.react(user=bob, room=plan, message_id=hello.pk, emoji='🎉', add=True)",
                "reactions.react(user=bob, room=plan, message_id=ok.pk, emoji='👍', add=True)",
                "reactions.react(user=bob, room=plan, message_id=yes.pk, emoji='❤️', add=True)",
                "say(alice, review, '新首页的设计稿已经上传')",
                "say(bob, general, 'Welcome to the general room!')",
                "say(bob, general, '有人看过新的设计吗？')",
                "say(bob, direct, '@alice 周六见！')",
                "print(plan.slug)",
            ]
        ),
    )
    alice.page.goto(f"{site.base}/")
    plan = alice.page.locator("#room-list .conv").filter(has_text="周末计划")
    plan.get_by_role("link").click()
    expect(alice.page.locator("#room-name")).to_have_text("周末计划", timeout=WAIT_MS)
    expect_connected(alice)
    expect(_message(alice, "记得带水")).to_have_count(1, timeout=WAIT_MS)
    expect(alice.page.locator("#direct-list .conv.is-mention .badge")).to_be_visible()
    general = alice.page.locator("#room-list .conv.is-unread").filter(has_text="general")
    expect(general).to_have_count(1)
    # A line marks where alice stopped reading: above bob's route.
    divider = alice.page.locator("#messages > li.is-first-unread")
    expect(divider).to_have_count(1)
    expect(divider.locator(".unread-divider")).to_have_text("New messages")
    expect(divider.locator(".msg-body")).to_contain_text("路线在这里")
    expect(_message(alice, "记得带水")).to_be_in_viewport()
    room_url = alice.page.url
    bob.page.goto(room_url)
    expect_connected(bob)
    expect(alice.page.locator("#member-list .member.is-online")).to_have_count(2, timeout=WAIT_MS)
    alice.page.locator("#composer-input").fill("好的，周六见 😄")
    alice.page.mouse.move(0, 0)
    alice.page.screenshot(path=str(SCREENSHOTS / "screenshot-desktop.png"), animations="disabled")

    phone = log_in(browser, site.base, "alice", PASSWORDS["alice"], viewport=PHONE)
    try:
        phone.page.goto(room_url)
        expect_connected(phone)
        expect(_message(phone, "记得带水")).to_be_in_viewport(timeout=WAIT_MS)
        phone.page.screenshot(path=str(SCREENSHOTS / "screenshot-phone.png"), animations="disabled")
        phone.assert_no_script_errors()
    finally:
        phone.page.context.close()

    # docs/screenshot-zh.png: the same view from a browser that asks for Chinese. Alice's read
    # mark goes back to where the English screenshot found it, so the "new messages" line shows.
    _seed(
        site,
        "\n".join(
            [
                "from chat.models import Membership, Message",
                "ok = Message.objects.get(body='八点可以 👍 我开车去接你')",
                "Membership.objects.filter(room=ok.room, user=alice).update(last_read=ok.pk)",
            ]
        ),
    )
    chinese = browser.new_context(
        storage_state=alice.page.context.storage_state(),
        locale="zh-CN",
        viewport={"width": 1280, "height": 800},
    )
    try:
        page = chinese.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(room_url)
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )
        expect(page.locator("#messages > li.is-first-unread .unread-divider")).to_have_text(
            "新消息", timeout=WAIT_MS
        )
        expect(page.locator("#member-list .member.is-online")).to_have_count(2, timeout=WAIT_MS)
        page.locator("#composer-input").fill("好的，周六见 😄")
        page.mouse.move(0, 0)
        page.screenshot(path=str(SCREENSHOTS / "screenshot-zh.png"), animations="disabled")
        assert not errors, errors
    finally:
        chinese.close()
    alice.assert_no_script_errors()
