"""Searching messages in a real browser: the header's field (Ctrl+K, "/"), results from every
room alice may open with their room named and the words marked, Chinese and English, paging,
the room filter, and a result opening its room at the message, highlighted: in place from a
room page (even a message older than the room's `ready` brings), as a page from the home page,
and again after a reload of its address.

Self-contained like the other browser tests: its own SQLite file and Daphne process, Chromium
driven by Playwright's sync API. Run it in a process of its own: `pytest -m browser tests`.
"""

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from .helpers import WAIT_MS, Site, User, expect_connected, log_in, manage

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-search-pass-23", "bob": "bob-search-pass-23"}
PHONE = {"width": 390, "height": 844}
NOTES = 85  # after the kitchen's old message: more than a room's `ready` brings (50)


@dataclass
class Seeded:
    garden: str
    kitchen: str
    secret: str
    direct: str
    garden_chat: int  # "我们的聊天室很好" in the garden
    kitchen_chat: int  # the kitchen's old message, NOTES messages before the newest
    sockets: int  # "WebSockets use sockets" in the garden


def _id_of(site: Site, body: str) -> int:
    rows = site.query("SELECT id FROM chat_message WHERE body = ?", body)
    assert len(rows) == 1, (body, rows)
    return rows[0][0]


def _slug_of(site: Site, name: str) -> str:
    rows = site.query("SELECT slug FROM chat_room WHERE name = ?", name)
    assert len(rows) == 1, (name, rows)
    return rows[0][0]


@pytest.fixture(scope="module")
def seeded(site: Site) -> Seeded:
    """Rooms and messages, stored by the server's own services (chat.messages.post)."""
    script = "\n".join(
        [
            "from django.contrib.auth import get_user_model",
            "from chat import messages, rooms",
            "User = get_user_model()",
            "alice = User.objects.get(username='alice')",
            "bob = User.objects.get(username='bob')",
            "garden = rooms.create_room(creator=alice, name='Garden', kind='public')",
            "kitchen = rooms.create_room(creator=alice, name='Kitchen', kind='public')",
            "rooms.open_room(user=bob, slug=garden.slug)",
            "secret = rooms.create_room(creator=bob, name='Secret', kind='private')",
            "direct = rooms.direct_room(user=alice, other=bob)",
            "def say(who, room, body):",
            "    messages.post(author=who, room=room, body=body)",
            "say(alice, kitchen, '厨房**聊天**: the old recipe')",
            f"for i in range({NOTES}):",
            "    say(alice, kitchen, f'Note {i}: the soil is ready')",
            "say(bob, secret, '秘密聊天 about sockets')",
            "say(bob, direct, '和你聊天很开心')",
            "say(bob, garden, 'WebSockets use sockets')",
            "say(bob, garden, '我们的聊天室很好')",
        ]
    )
    manage(site.env, "shell", "-c", script)
    return Seeded(
        garden=_slug_of(site, "Garden"),
        kitchen=_slug_of(site, "Kitchen"),
        secret=_slug_of(site, "Secret"),
        direct=site.query("SELECT slug FROM chat_room WHERE kind = 'direct'")[0][0],
        garden_chat=_id_of(site, "我们的聊天室很好"),
        kitchen_chat=_id_of(site, "厨房**聊天**: the old recipe"),
        sockets=_id_of(site, "WebSockets use sockets"),
    )


def _field(user: User):
    return user.page.get_by_role("combobox", name="Search messages")


def _results(user: User):
    return user.page.get_by_role("listbox", name="Messages found").get_by_role("option")


def _result(user: User, message_id: int):
    return user.page.locator(f"#site-search-hit-{message_id}")


def _console_errors(user: User) -> list[str]:
    """Every error the page's console reports from now on (not only the CSP's)."""
    errors: list[str] = []
    user.page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return errors


def _expect_shown(user: User, message_id: int) -> None:
    """The room's log holds the message, in view and highlighted."""
    message = user.page.locator(f"#messages > #msg-{message_id}")
    expect(message).to_have_count(1, timeout=WAIT_MS)
    expect(message).to_be_in_viewport(timeout=WAIT_MS)
    expect(message).to_have_class(re.compile(r"\bis-focused\b"), timeout=WAIT_MS)


def test_chinese_results_from_two_rooms_open_an_old_message_in_place(site, seeded, alice):
    page = alice.page
    console = _console_errors(alice)
    page.goto(f"{site.base}/rooms/{seeded.garden}/")
    expect_connected(alice)
    page.evaluate("window.__samePage = true")
    # The kitchen's old message is not among what the room's `ready` brings.
    note = site.query("SELECT COUNT(*) FROM chat_message WHERE id > ?", seeded.kitchen_chat)
    assert note[0][0] > 50

    page.keyboard.press("Control+k")
    field = _field(alice)
    expect(field).to_be_focused()
    field.fill("聊天")
    results = _results(alice)
    # The garden, the kitchen and the direct conversation with bob; never bob's private room.
    expect(results).to_have_count(3, timeout=WAIT_MS)
    expect(field).to_have_attribute("aria-expanded", "true")
    garden = _result(alice, seeded.garden_chat)
    kitchen = _result(alice, seeded.kitchen_chat)
    expect(garden.locator(".site-search-room")).to_have_text("#Garden")
    expect(garden.locator(".site-search-author")).to_have_text("bob")
    expect(kitchen.locator(".site-search-room")).to_have_text("#Kitchen")
    expect(results.locator(".site-search-room")).to_have_text(["#Garden", "@bob", "#Kitchen"])
    expect(results.locator(".site-search-room").filter(has_text="Secret")).to_have_count(0)
    expect(results.filter(has_text="秘密")).to_have_count(0)
    # The words looked for are marked, inside the server's markup too (**聊天**).
    body = garden.locator(".site-search-body")
    assert body.inner_html() == "<p>我们的<mark>聊天</mark>室很好</p>"
    expect(kitchen.locator("strong mark")).to_have_text("聊天")
    expect(results.locator("mark")).to_have_text(["聊天", "聊天", "聊天"])
    expect(garden.locator("time")).not_to_have_text("")

    # The kitchen's result: the room opens in place at that message, highlighted.
    kitchen.click()
    expect(page).to_have_url(
        f"{site.base}/rooms/{seeded.kitchen}/#msg-{seeded.kitchen_chat}", timeout=WAIT_MS
    )
    expect(page.locator("#room-name")).to_have_text("Kitchen")
    expect(page.locator("#site-search-panel")).to_be_hidden()
    _expect_shown(alice, seeded.kitchen_chat)
    assert page.evaluate("window.__samePage") is True

    # Another room's result from there: in place again.
    page.keyboard.press("Control+k")
    expect(field).to_be_focused()
    expect(results).to_have_count(3)  # the results are kept for the next Ctrl+K
    garden.click()
    expect(page).to_have_url(
        f"{site.base}/rooms/{seeded.garden}/#msg-{seeded.garden_chat}", timeout=WAIT_MS
    )
    expect(page.locator("#room-name")).to_have_text("Garden")
    _expect_shown(alice, seeded.garden_chat)

    # A result in the room on screen: the address follows, the jump is in place.
    page.keyboard.press("Control+k")
    field.fill("sock")
    sockets = _result(alice, seeded.sockets)
    expect(results).to_have_count(1, timeout=WAIT_MS)
    sockets.click()
    expect(page).to_have_url(
        f"{site.base}/rooms/{seeded.garden}/#msg-{seeded.sockets}", timeout=WAIT_MS
    )
    _expect_shown(alice, seeded.sockets)

    # Back: the kitchen again, at its message.
    page.go_back()
    expect(page).to_have_url(
        f"{site.base}/rooms/{seeded.kitchen}/#msg-{seeded.kitchen_chat}", timeout=WAIT_MS
    )
    expect(page.locator("#room-name")).to_have_text("Kitchen", timeout=WAIT_MS)
    _expect_shown(alice, seeded.kitchen_chat)
    assert page.evaluate("window.__samePage") is True
    assert console == []
    alice.assert_no_script_errors()


def test_english_prefix_from_the_home_page_by_keyboard_and_a_reload(site, seeded, alice):
    page = alice.page
    console = _console_errors(alice)
    page.goto(f"{site.base}/")
    field = _field(alice)
    field.click()
    field.fill("sock")
    results = _results(alice)
    # "sock" finds "sockets" (the start of a word), in the garden; not bob's private room.
    expect(results).to_have_count(1, timeout=WAIT_MS)
    hit = _result(alice, seeded.sockets)
    expect(hit.locator(".site-search-room")).to_have_text("#Garden")
    # Marked where the server matched: "sockets", not inside "WebSockets".
    assert hit.locator(".site-search-body").inner_html() == (
        "<p>WebSockets use <mark>sock</mark>ets</p>"
    )

    # The arrow keys choose, Enter opens: the room's page at the message.
    field.press("ArrowDown")
    expect(hit).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", f"site-search-hit-{seeded.sockets}")
    field.press("Enter")
    expect(page).to_have_url(
        f"{site.base}/rooms/{seeded.garden}/#msg-{seeded.sockets}", timeout=WAIT_MS
    )
    expect_connected(alice)
    _expect_shown(alice, seeded.sockets)

    # A reload of that address lands on the message again; so does one of an old message.
    page.reload()
    expect_connected(alice)
    _expect_shown(alice, seeded.sockets)
    page.goto(f"{site.base}/rooms/{seeded.kitchen}/#msg-{seeded.kitchen_chat}")
    expect_connected(alice)
    _expect_shown(alice, seeded.kitchen_chat)
    assert console == []
    alice.assert_no_script_errors()


def test_the_room_filter_paging_empty_and_escape(site, seeded, alice):
    page = alice.page
    page.goto(f"{site.base}/rooms/{seeded.kitchen}/")
    expect_connected(alice)
    field = _field(alice)
    results = _results(alice)
    panel = page.locator("#site-search-panel")

    # "/" focuses the field when no text field has the keyboard.
    page.locator("#log").focus()
    page.keyboard.press("/")
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    field.fill("聊天")
    expect(results).to_have_count(3, timeout=WAIT_MS)
    here = page.get_by_role("checkbox", name="Search in this room only")
    here.check()
    expect(results).to_have_count(1, timeout=WAIT_MS)
    expect(_result(alice, seeded.kitchen_chat)).to_be_visible()
    here.uncheck()
    expect(results).to_have_count(3, timeout=WAIT_MS)

    # Escape closes the results; the field keeps its words.
    field.press("Escape")
    expect(panel).to_be_hidden()
    expect(field).to_have_value("聊天")
    expect(field).to_have_attribute("aria-expanded", "false")

    # Nothing found: says so.
    field.fill("zzqqx")
    status = page.locator("#site-search-status")
    expect(status).to_have_text("No messages found for “zzqqx”.", timeout=WAIT_MS)
    expect(results).to_have_count(0)

    # Twenty at a time, newest first; "Load more" brings the older ones.
    field.fill("soil")
    expect(results).to_have_count(20, timeout=WAIT_MS)
    expect(results.first).to_contain_text(f"Note {NOTES - 1}:")
    more = page.get_by_role("button", name="Load more")
    more.click()
    expect(results).to_have_count(40, timeout=WAIT_MS)
    expect(results.nth(39)).to_contain_text(f"Note {NOTES - 40}:")
    expect(results.locator("mark").first).to_have_text("soil")
    field.press("Escape")
    expect(panel).to_be_hidden()

    # A search too long: the server's words (the browser logs the 400 answer: no console check).
    field.fill("x" * 201)
    expect(status).to_have_text("A search is at most 200 characters.", timeout=WAIT_MS)
    expect(status).to_have_class(re.compile(r"\bis-error\b"))
    alice.assert_no_script_errors()


def test_a_phone_shows_the_results_across_the_screen(browser, site, seeded):
    phone = log_in(browser, site.base, "alice", PASSWORDS["alice"], viewport=PHONE)
    try:
        page = phone.page
        console = _console_errors(phone)
        page.goto(f"{site.base}/rooms/{seeded.garden}/")
        expect_connected(phone)
        field = _field(phone)
        expect(field).to_be_in_viewport()
        field.click()
        field.fill("聊天")
        expect(_results(phone)).to_have_count(3, timeout=WAIT_MS)
        box = page.locator("#site-search-panel").bounding_box()
        assert box is not None and box["x"] == 0 and box["width"] == PHONE["width"], box
        _result(phone, seeded.kitchen_chat).click()
        expect(page.locator("#room-name")).to_have_text("Kitchen", timeout=WAIT_MS)
        _expect_shown(phone, seeded.kitchen_chat)
        assert console == []
        phone.assert_no_script_errors()
    finally:
        page.context.close()
