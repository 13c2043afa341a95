"""Chatting in Chinese, in a real browser: two people whose browsers ask for Chinese
(Accept-Language: zh-CN) get the Chinese interface, the page's words and the client's (Django's
JavaScript catalog), type Chinese and read each other; the header's language button switches to
English, and English stays on the next page load.

Self-contained like the other browser tests: its own SQLite file and Daphne process, Chromium
driven by Playwright's sync API. Run it in a process of its own: `pytest -m browser tests`.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .helpers import WAIT_MS, Site, User, expect_connected, log_in, manage, say

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-zh-pass-31", "bob": "bob-zh-pass-31"}
ROOM = "周会"
GREETING = "大家好，今天下午三点开会"


def _chinese_user(browser: Browser, site: Site, name: str) -> User:
    """`name` logged in from a browser whose language is Chinese: the lobby is Chinese."""
    user = log_in(browser, site.base, name, PASSWORDS[name], locale="zh-CN")
    expect(user.page.locator("html")).to_have_attribute("lang", "zh-Hans")
    return user


@pytest.fixture(scope="module")
def room(site: Site) -> str:
    """A public room with a Chinese name that both belong to; its URL."""
    script = "\n".join(
        [
            "from django.contrib.auth import get_user_model",
            "from chat import rooms",
            "User = get_user_model()",
            "alice = User.objects.get(username='alice')",
            "bob = User.objects.get(username='bob')",
            f"room = rooms.create_room(creator=alice, name={ROOM!r}, kind='public')",
            "rooms.open_room(user=bob, slug=room.slug)",
        ]
    )
    manage(site.env, "shell", "-c", script)
    slug = site.query("SELECT slug FROM chat_room WHERE name = ?", ROOM)[0][0]
    return f"{site.base}/rooms/{slug}/"


@pytest.fixture(scope="module")
def zh_alice(browser, site) -> Iterator[User]:
    user = _chinese_user(browser, site, "alice")
    yield user
    user.page.context.close()


@pytest.fixture(scope="module")
def zh_bob(browser, site) -> Iterator[User]:
    user = _chinese_user(browser, site, "bob")
    yield user
    user.page.context.close()


def test_chatting_in_chinese(site, room, zh_alice, zh_bob):
    alice, bob = zh_alice, zh_bob
    for user in (alice, bob):
        user.page.goto(room)
        expect_connected(user)
        page = user.page
        # The client's words come from the Chinese catalog...
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.locator("#conn-status .conn-text")).to_have_text("已连接")
        expect(page.locator("#composer-input")).to_have_attribute(
            "placeholder", f"发送消息到 #{ROOM}"
        )
        assert page.evaluate("typeof django.gettext") == "function"
    # ...a member count in Chinese once both are online...
    expect(alice.page.locator("#member-count")).to_have_attribute(
        "title", "2 人在线 · 共 2 名成员", timeout=WAIT_MS
    )

    # Chinese typed in, Chinese read on the other side, under a day divider "今天".
    say(alice, GREETING)
    for user in (alice, bob):
        message = user.page.locator("#messages > li").filter(
            has=user.page.locator(".msg-body").filter(has_text=GREETING)
        )
        expect(message).to_have_count(1, timeout=WAIT_MS)
        expect(user.page.locator("#messages .day-label").last).to_have_text("今天")
        # Times are written the Chinese way: "14:05", not "2:05 PM".
        expect(message.locator("time").first).to_have_text(re.compile(r"^\d{1,2}:\d{2}$"))
    assert site.query("SELECT count(*) FROM chat_message WHERE body = ?", GREETING) == [(1,)]

    # Bob answers; alice sees it, with the Chinese words around it.
    say(bob, "好的，三点见！")
    expect(alice.page.locator("#messages .msg-body").filter(has_text="三点见")).to_have_count(
        1, timeout=WAIT_MS
    )
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_switching_to_english_sticks(site, room, zh_bob):
    page = zh_bob.page
    page.goto(room)
    expect_connected(zh_bob)
    expect(page.locator("#conn-status .conn-text")).to_have_text("已连接")

    # The header's button (a POST to /i18n/setlang/) names the other language in its own words.
    switch = page.locator("form.language-form button.language-switch")
    expect(switch).to_have_attribute("value", "en")
    switch.click()
    expect(page).to_have_url(room, timeout=WAIT_MS)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect_connected(zh_bob)
    expect(page.locator("#conn-status .conn-text")).to_have_text("Connected")
    expect(page.locator("#composer-input")).to_have_attribute("placeholder", f"Message #{ROOM}")
    expect(page.locator("#messages .day-label").last).to_have_text("Today")

    # The choice outlives the page: the browser still asks for Chinese, the site answers English.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect_connected(zh_bob)
    expect(page.locator("#conn-status .conn-text")).to_have_text("Connected")
    page.goto(f"{site.base}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("form.language-form button.language-switch")).to_have_attribute(
        "value", "zh-hans"
    )
    zh_bob.assert_no_script_errors()
