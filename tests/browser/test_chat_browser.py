"""The chat page in a real browser: Daphne serving the site, Chromium driven by Playwright.

Self-contained on purpose (see conftest.py): its own SQLite file, in-memory channel layer and
Daphne process, so it never touches pytest-django's test database. Run it in a process of its own:
`pytest -m browser tests` (the async tests run with `-m "not browser"`).
"""

import re

import pytest
from playwright.sync_api import expect

from .helpers import WAIT_MS, User, create_room, expect_connected, say

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-browser-pass-17", "bob": "bob-browser-pass-17"}


def _open_new_room(server: str, alice: User, bob: User, name: str) -> str:
    """Alice creates a public room through the home page's form; both open it. Returns its URL."""
    url = create_room(alice, server, name)
    assert url.startswith(f"{server}/rooms/")
    bob.page.goto(url)
    expect(bob.page.locator("#room-name")).to_have_text(name, timeout=WAIT_MS)
    expect_connected(bob)
    return url


def _record_pending(user: User) -> None:
    """Remember every element that appears in the outbox, however briefly it stays."""
    user.page.evaluate(
        """() => {
            window.__pendingSeen = [];
            new MutationObserver((records) => {
                for (const record of records) {
                    for (const node of record.addedNodes) {
                        window.__pendingSeen.push({
                            pending: node.classList.contains("is-pending"),
                            text: node.querySelector(".msg-body").textContent,
                        });
                    }
                }
            }).observe(document.getElementById("pending"), {childList: true});
        }"""
    )


def _message(user: User, text: str):
    return user.page.locator("#messages .msg-body").filter(has_text=text)


def test_a_message_reaches_the_other_user_and_is_confirmed(server, alice, bob):
    _open_new_room(server, alice, bob, "Weekend plans")
    expect(alice.page.locator("#member-list")).to_contain_text("bob", timeout=WAIT_MS)
    expect(bob.page.locator("#member-list .member.is-online")).to_have_count(2, timeout=WAIT_MS)
    _record_pending(alice)

    say(alice, "Hi Bob! Are we still on for the hike on Saturday?")

    expect(_message(bob, "Are we still on for the hike")).to_have_count(1, timeout=WAIT_MS)
    # Alice's message showed at once as pending, then the server's `message` confirmed it.
    expect(alice.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    confirmed = alice.page.locator("#messages > li").filter(has_text="Are we still on")
    expect(confirmed).to_have_count(1)
    expect(confirmed).to_have_attribute("data-id", re.compile(r"^\d+$"))
    expect(confirmed).not_to_have_class("is-pending")
    seen = alice.page.evaluate("window.__pendingSeen")
    assert seen and seen[0]["pending"] and "hike" in seen[0]["text"], seen

    say(bob, "Yes! I'll bring the map and some snacks.")
    expect(_message(alice, "bring the map")).to_have_count(1, timeout=WAIT_MS)
    say(alice, "Great. Meet at the trailhead at 8?")
    say(alice, "The forecast says sunny: https://example.com/forecast")
    say(bob, "8 works. See you there")
    for user in (alice, bob):
        expect(user.page.locator("#messages > li")).to_have_count(5, timeout=WAIT_MS)
        expect(user.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    # Each message once, in the same order on both pages.
    assert (
        alice.page.locator("#messages .msg-body").all_inner_texts()
        == bob.page.locator("#messages .msg-body").all_inner_texts()
    )
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_html_in_a_message_is_shown_as_text(server, alice, bob):
    _open_new_room(server, alice, bob, "Markup check")
    payload = "<img src=x onerror=window.__xss=1> <b>bold?</b> <script>window.__xss=2</script>"

    say(alice, payload)

    for user in (bob, alice):
        body = _message(user, "onerror")
        expect(body).to_have_count(1, timeout=WAIT_MS)
        expect(body).to_have_text(payload)
        assert user.page.locator("#messages img, #messages b, #messages script").count() == 0
        assert user.page.evaluate("typeof window.__xss") == "undefined"
    expect(alice.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()
