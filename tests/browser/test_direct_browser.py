"""Direct messages, unread badges, "Seen" and mentions in a real browser.

Self-contained like test_chat_browser.py: its own SQLite file, in-memory channel layer and
Daphne process on a free port, Chromium driven by Playwright's sync API. Run it in a process of
its own: `pytest -m browser tests`.
"""

import re

import pytest
from playwright.sync_api import expect

from .helpers import WAIT_MS, User, create_room, expect_connected, log_in, sidebar_entry

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-direct-pass-17", "bob": "bob-direct-pass-17"}

# Desktop notifications, observable: a Notification that records what it was asked to show,
# whose permission request is granted, and a tab that can pretend to be hidden.
FAKE_NOTIFICATIONS = """
(() => {
  window.__notes = [];
  window.__permission = "default";
  window.__hidden = false;
  class FakeNotification {
    constructor(title, options) {
      window.__notes.push({ title: title, body: (options && options.body) || "" });
      this.onclick = null;
    }
    close() {}
    static get permission() { return window.__permission; }
    static requestPermission() {
      window.__permission = "granted";
      return Promise.resolve("granted");
    }
  }
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true,
    get() { return window.__hidden; },
  });
})();
"""


def _expect_home_live(user: User) -> None:
    expect(user.page.locator("#home")).to_have_attribute("data-live", "connected", timeout=WAIT_MS)


def _say(user: User, text: str) -> None:
    composer = user.page.locator("#composer-input")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")
    expect(user.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)


def _message(user: User, text: str):
    return user.page.locator("#messages > li").filter(has_text=text)


def test_a_direct_message_shows_up_live_and_seen_comes_back(server, alice, bob):
    bob.page.goto(f"{server}/")
    _expect_home_live(bob)
    expect(bob.page).not_to_have_title(re.compile(r"^\("))

    # Alice finds bob with the home page's search and opens the conversation.
    alice.page.goto(f"{server}/")
    alice.page.get_by_role("combobox", name="Find someone to message").fill("bo")
    result = alice.page.locator("#user-search-results").get_by_role("link", name=re.compile("bob"))
    expect(result).to_have_count(1, timeout=WAIT_MS)
    result.click()
    expect(alice.page).to_have_url(re.compile(r"/rooms/dm-\d+-\d+/$"), timeout=WAIT_MS)
    slug = alice.page.url.rstrip("/").rsplit("/", 1)[1]
    expect(alice.page.locator("#room-name")).to_have_text("bob")
    expect(alice.page).to_have_title(re.compile(r"^@bob · Chat$"))
    expect_connected(alice)
    _say(alice, "hi bob")

    # Bob's sidebar, without a reload: the new conversation, one unread message, the title.
    entry = sidebar_entry(bob, slug)
    expect(entry).to_have_count(1, timeout=WAIT_MS)
    expect(bob.page.locator(f'#direct-list li[data-room="{slug}"]')).to_have_count(1)
    expect(entry.locator(".conv-name")).to_have_text("alice")
    badge = entry.locator(".badge")
    expect(badge).to_be_visible(timeout=WAIT_MS)
    expect(badge.locator(".badge-count")).to_have_text("1")
    expect(entry).to_have_class(re.compile(r"\bis-mention\b"))  # a direct message stands out
    expect(bob.page).to_have_title(re.compile(r"^\(1\) "), timeout=WAIT_MS)
    expect(bob.page.locator("#direct-empty")).to_be_hidden()

    # Bob opens it and reads it; Alice sees "Seen" under her message.
    entry.get_by_role("link").click()
    expect(bob.page).to_have_url(f"{server}/rooms/{slug}/", timeout=WAIT_MS)
    expect_connected(bob)
    expect(_message(bob, "hi bob")).to_have_count(1, timeout=WAIT_MS)
    expect(bob.page.locator("#room-name")).to_have_text("alice")
    seen = _message(alice, "hi bob").locator(".msg-seen")
    expect(seen).to_have_text("Seen", timeout=WAIT_MS)
    expect(alice.page.locator(".msg-seen")).to_have_count(1)
    expect(bob.page).not_to_have_title(re.compile(r"^\("), timeout=WAIT_MS)

    # "Seen" moves on as bob reads on; bob's own view shows no "Seen" for alice's messages.
    _say(alice, "see you on Saturday")
    expect(_message(bob, "see you on Saturday")).to_have_count(1, timeout=WAIT_MS)
    expect(_message(alice, "see you on Saturday").locator(".msg-seen")).to_have_count(
        1, timeout=WAIT_MS
    )
    expect(alice.page.locator(".msg-seen")).to_have_count(1)
    expect(bob.page.locator(".msg-seen")).to_have_count(0)

    # Back home, the conversation is read.
    bob.page.goto(f"{server}/")
    _expect_home_live(bob)
    expect(entry.locator(".badge")).to_be_hidden()
    expect(entry).not_to_have_class(re.compile(r"\bis-unread\b"))
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_mention_elsewhere_notifies_and_is_highlighted_in_the_room(browser, server, alice):
    # Bob, in a browser whose desktop notifications the test can observe.
    bob = log_in(browser, server, "bob", PASSWORDS["bob"], init_script=FAKE_NOTIFICATIONS)
    try:
        page = alice.page
        room_url = create_room(alice, server, "Trail talk")

        # Bob joins the room, then goes to another one: his direct conversation with alice.
        bob.page.goto(room_url)
        expect_connected(bob)
        expect(page.locator("#member-list")).to_contain_text("bob", timeout=WAIT_MS)
        # Alice may start a conversation with bob from the member list; not with herself.
        member = page.locator("#member-list .member").filter(has_text="bob")
        expect(member.get_by_role("link", name=re.compile("direct message"))).to_have_attribute(
            "href", "/dm/bob/"
        )
        mine = page.locator("#member-list .member").filter(has_text="(you)")
        expect(mine.locator(".member-dm")).to_have_count(0)

        bob.page.goto(f"{server}/dm/alice/")
        expect(bob.page).to_have_url(re.compile(r"/rooms/dm-\d+-\d+/$"), timeout=WAIT_MS)
        expect_connected(bob)
        expect(bob.page.locator("#member-list .member-dm")).to_have_count(0)  # a direct room

        # Bob opts in to desktop notifications, then leaves the tab in the background.
        bell = bob.page.get_by_role("button", name="Enable desktop notifications")
        expect(bell).to_be_visible()
        bell.click()
        expect(bob.page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
        assert bob.page.evaluate("localStorage.getItem('chat.desktop-notifications')") == "on"
        bob.page.evaluate("window.__hidden = true")

        _say(alice, "@bob look")

        toast = bob.page.locator(".toast-link").filter(has_text="alice mentioned you")
        expect(toast).to_be_visible(timeout=WAIT_MS)
        expect(toast).to_have_attribute("href", re.compile(r"^/rooms/trail-talk/$"))
        bob.page.wait_for_function("window.__notes.length === 1", timeout=WAIT_MS)
        [note] = bob.page.evaluate("window.__notes")
        assert note == {"title": "alice mentioned you in #Trail talk", "body": "@bob look"}, note
        expect(bob.page).to_have_title(re.compile(r"^\(1\) "), timeout=WAIT_MS)

        # In the room (opened in place), the message is highlighted for bob, not for alice.
        bob.page.evaluate("window.__hidden = false")
        bob.page.evaluate("window.__samePage = true")
        toast.click()
        expect(bob.page).to_have_url(room_url, timeout=WAIT_MS)
        expect_connected(bob)
        mention = _message(bob, "@bob look")
        expect(mention).to_have_count(1, timeout=WAIT_MS)
        expect(mention).to_have_class(re.compile(r"\bis-mention\b"))
        expect(mention.locator(".mention-me")).to_have_text("@bob")
        expect(_message(alice, "@bob look")).not_to_have_class(re.compile(r"\bis-mention\b"))
        expect(_message(alice, "@bob look").locator(".mention")).to_have_text("@bob")
        expect(bob.page).not_to_have_title(re.compile(r"^\("), timeout=WAIT_MS)
        assert bob.page.evaluate("window.__samePage") is True
        alice.assert_no_script_errors()
        bob.assert_no_script_errors()
    finally:
        bob.page.context.close()
