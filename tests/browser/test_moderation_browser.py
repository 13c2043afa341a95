"""Moderation in a real browser: the room settings page, slow mode, reports and bans.

Self-contained like test_chat_browser.py: its own SQLite file, in-memory channel layer and
Daphne process on a free port, Chromium driven by Playwright's sync API. Run it in a process of
its own: `pytest -m browser tests`.
"""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from .helpers import WAIT_MS, User, create_room, expect_connected, say, slug_of

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-moderation-pass-17", "bob": "bob-moderation-pass-17"}
VIEWPORT = {"width": 1280, "height": 900}
SLOW_MODE_SECONDS = 3


def _message(user: User, text: str):
    return user.page.locator("#messages > li").filter(has_text=text)


def _expect_done(user: User) -> None:
    """The settings page came back with the server's "Done." (not a refusal, whose words
    would show in the failure)."""
    flash = user.page.locator(".flash-list .flash")
    expect(flash).to_have_text("Done.", timeout=WAIT_MS)
    expect(flash).to_have_class(re.compile(r"\bflash-success\b"))


def test_a_moderator_slows_the_room_down_and_bans_a_member_who_sees_it_live(site, alice, bob):
    base = site.base
    # Alice owns a public room; bob joins it.
    page = alice.page
    room_url = create_room(alice, base, "Moderation lab")
    slug = slug_of(room_url)

    bob.page.goto(room_url)
    expect_connected(bob)
    expect(page.locator("#member-list")).to_contain_text("bob", timeout=WAIT_MS)
    # Moderation is not bob's business: no settings link, no slow mode, a composer.
    expect(bob.page.get_by_role("link", name="Room settings")).to_have_count(0)
    expect(bob.page.locator("#slow-mode-flag")).to_be_hidden()
    expect(bob.page.locator("#composer-input")).to_be_enabled()

    # Bob reports one of alice's messages, with a reason; the report reaches the database.
    say(alice, "Welcome to the lab. Please be nice.")
    welcome = _message(bob, "Welcome to the lab")
    expect(welcome).to_have_count(1, timeout=WAIT_MS)
    # Everyone may report the others' messages, not their own.
    expect(_message(alice, "Welcome to the lab").locator('[data-action="report"]')).to_have_count(0)
    welcome.hover()
    welcome.get_by_role("button", name=re.compile("^Report")).click()
    dialog = bob.page.get_by_role("dialog", name="Report this message?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Welcome to the lab")
    dialog.get_by_label("Why?").fill("Testing the report button")
    dialog.get_by_role("button", name="Report").click()
    expect(dialog).to_be_hidden()
    expect(bob.page.locator(".toast")).to_have_text(
        "Reported. Thanks: a moderator will look at it.", timeout=WAIT_MS
    )
    reports = site.query(
        "SELECT u.username, r.reason, r.status, m.body FROM chat_report r"
        " JOIN auth_user u ON u.id = r.reporter_id JOIN chat_message m ON m.id = r.message_id"
    )
    assert reports == [
        ("bob", "Testing the report button", "open", "Welcome to the lab. Please be nice.")
    ], reports

    # Alice opens the room's settings from the room page and turns slow mode on.
    bob.page.evaluate("window.__samePage = true")
    page.get_by_role("link", name="Room settings").click()
    expect(page).to_have_url(f"{base}/rooms/{slug}/settings/", timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Room settings")).to_be_visible()
    page.get_by_label("Slow mode").fill(str(SLOW_MODE_SECONDS))
    page.locator("form").filter(has=page.get_by_label("Slow mode")).get_by_role(
        "button", name="Save"
    ).click()
    _expect_done(alice)
    expect(page.get_by_label("Slow mode")).to_have_value(str(SLOW_MODE_SECONDS))

    # Bob's page shows it at once, without a reload.
    flag = bob.page.locator("#slow-mode-flag")
    expect(flag).to_be_visible(timeout=WAIT_MS)
    expect(flag).to_have_text(f"Slow mode: {SLOW_MODE_SECONDS} s")
    assert bob.page.evaluate("window.__samePage") is True

    # Two messages at once: the first goes through, the second waits its turn, says so, and
    # goes through by itself.
    say(bob, "First of two")
    say(bob, "Second of two")
    expect(_message(bob, "First of two")).to_have_count(1, timeout=WAIT_MS)
    waiting = bob.page.locator("#pending > li").filter(has_text="Second of two")
    expect(waiting.locator(".msg-status")).to_have_text(
        re.compile(r"^Slow mode: wait [1-3] s$"), timeout=WAIT_MS
    )
    expect(_message(bob, "Second of two")).to_have_count(1, timeout=WAIT_MS)
    expect(bob.page.locator("#pending > li")).to_have_count(0)
    stored = site.query(
        "SELECT m.body FROM chat_message m JOIN auth_user u ON u.id = m.author_id"
        " WHERE u.username = 'bob' ORDER BY m.id"
    )
    assert stored == [("First of two",), ("Second of two",)], stored

    # Alice bans bob from the settings page; bob's page says so at once and stays closed.
    sockets_before = len(bob.sockets)
    page.reload()
    row = page.locator('tr.member-row[data-username="bob"]')
    row.get_by_role("button", name="Ban").click()
    panel = page.locator('#member-panel form[data-panel="ban"]')
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Ban bob")
    panel.get_by_label("Duration").select_option("1h")
    panel.get_by_label("Reason").fill("Testing bans")
    panel.get_by_role("button", name="Ban", exact=True).click()
    _expect_done(alice)

    notice = bob.page.locator("#room-notice")
    expect(notice).to_contain_text("You were removed from this room", timeout=3000)
    expect(notice.get_by_role("link", name="Back to the lobby")).to_have_attribute("href", "/")
    expect(bob.page.locator("#conn-status")).to_have_attribute("data-state", "closed")
    expect(bob.page.locator("#composer-input")).to_be_disabled()
    bob.page.wait_for_timeout(3000)  # longer than the first reconnect delays would be
    expect(bob.page.locator("#conn-status")).to_have_attribute("data-state", "closed")
    assert len(bob.sockets) == sockets_before, bob.sockets

    # Reloading the room gets the 403 page.
    response = bob.page.reload()
    assert response is not None and response.status == 403
    expect(bob.page.get_by_role("heading", name=re.compile("have access"))).to_be_visible()

    # The settings page lists the ban and the log.
    bans = page.locator("section").filter(
        has=page.get_by_role("heading", name=re.compile("^Active bans"))
    )
    expect(bans.locator("tbody tr")).to_have_count(1)
    expect(bans.locator("tbody tr")).to_contain_text("bob")
    expect(bans.locator("tbody tr")).to_contain_text("Testing bans")
    log = page.locator(".log-table tbody tr")
    expect(log).to_have_count(2)  # newest first
    expect(log.nth(0)).to_contain_text("Ban")
    expect(log.nth(1)).to_contain_text("Set slow mode")
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def _ready(slug: str, me: str) -> str:
    return json.dumps(
        {
            "type": "ready",
            "room": {
                "slug": slug,
                "name": "Mock room",
                "kind": "public",
                "topic": "",
                "slow_mode": 0,
                "posting": "everyone",
            },
            "me": {"username": me, "role": "member", "moderator": False},
            "members": [me],
            "online": [me],
            "messages": [],
            "last_read": None,
        }
    )


def test_refusals_and_close_codes_the_server_may_send_are_explained(site, alice):
    """A stand-in server (Playwright's WebSocket routing) sends what is hard to provoke:
    a mute, a close for flooding (4429), a server in trouble (4503)."""
    base = site.base
    page = alice.page
    room_url = create_room(alice, base, "Mock room")
    slug = slug_of(room_url)

    # What each socket of the page meets; the third waits for its `ready` until the test has
    # seen the notice of the 4503 (a reconnect with full jitter may come at once).
    plan = ["ready", "close 4503", "hold"]
    sent: list[dict] = []
    sockets: list = []

    def on_socket(ws) -> None:
        sockets.append(ws)
        step = plan.pop(0) if plan else "ready"
        if step.startswith("close"):
            ws.close(code=int(step.split()[1]), reason="stand-in")
            return

        def on_frame(text) -> None:
            frame = json.loads(text)
            sent.append(frame)
            ref = {"ref": frame["ref"]} if "ref" in frame else {}
            if frame["type"] == "ping":
                ws.send(json.dumps({"type": "pong", **ref}))
            elif frame["type"] == "message.send":
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "muted",
                            "message": "You are muted in this room until 2031-05-04T10:30+00:00.",
                            "client_id": frame["client_id"],
                            **ref,
                        }
                    )
                )
            elif frame["type"] == "history":
                ws.send(json.dumps({"type": "history", "messages": [], "has_more": False, **ref}))
            elif ref:
                ws.send(json.dumps({"type": "ok", **ref}))

        ws.on_message(on_frame)
        if step == "ready":
            ws.send(_ready(slug, "alice"))

    mocked = page.context.new_page()
    errors: list[str] = []
    mocked.on("pageerror", lambda error: errors.append(str(error)))
    try:
        mocked.route_web_socket(re.compile(r"/ws/rooms/"), on_socket)
        mocked.goto(room_url)
        expect(mocked.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )

        # Muted: the message is marked as not sent, with the server's words (its time local).
        composer = mocked.locator("#composer-input")
        composer.fill("Can anyone hear me?")
        composer.press("Enter")
        failed = mocked.locator("#pending > li.is-failed")
        expect(failed).to_have_count(1, timeout=WAIT_MS)
        expect(failed.locator(".msg-status")).to_contain_text(
            re.compile(r"^Not sent: you are muted in this room until .*2031")
        )
        expect(failed.locator(".msg-status")).not_to_contain_text("T10:30")
        assert any(f["type"] == "message.send" for f in sent), sent

        # Closed for flooding: the notice counts down to a reconnect (30 to 60 s away).
        sockets[-1].close(code=4429, reason="stand-in")
        notice = mocked.locator("#room-notice")
        expect(notice).to_have_text(
            re.compile(r"^Disconnected for sending too much; reconnecting in \d+ s\.$"),
            timeout=WAIT_MS,
        )
        expect(mocked.locator("#conn-status")).to_have_attribute("data-state", "reconnecting")

        # "Retry now": the server answers 4503 (in trouble), the page backs off and retries.
        mocked.locator("#conn-status").get_by_role("button", name="Retry now").click()
        expect(notice).to_have_text(
            re.compile(r"^The chat server is unavailable right now; reconnecting"),
            timeout=WAIT_MS,
        )
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(sockets) < 3 and time.monotonic() < deadline:  # the page reconnects
            mocked.wait_for_timeout(50)
        sockets[2].send(_ready(slug, "alice"))
        expect(mocked.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )
        expect(notice).to_be_hidden()
        assert len(sockets) == 3, sockets
    finally:
        mocked.close()
    assert not errors, errors
