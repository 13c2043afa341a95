"""Moderation in a real browser: the room settings page, slow mode, reports and bans.

Self-contained like test_chat_browser.py: its own SQLite file, in-memory channel layer and
Daphne process on a free port, Chromium driven by Playwright's sync API. Run it in a process of
its own: `pytest -m browser tests`.
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORDS = {"alice": "alice-moderation-pass-17", "bob": "bob-moderation-pass-17"}
SCREENSHOT = ROOT / "docs" / "screenshot-room-settings.png"
STARTUP_TIMEOUT = 30.0
WAIT_MS = 10_000  # Playwright's expect: generous, the machine may be busy
SLOW_MODE_SECONDS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args[:1])} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )


CREATE_USERS = "\n".join(
    [
        "from django.contrib.auth import get_user_model",
        "User = get_user_model()",
        *(
            f"User.objects.create_user({name!r}, password={password!r})"
            for name, password in PASSWORDS.items()
        ),
    ]
)


@pytest.fixture(autouse=True)
def fresh_ephemeral_state() -> None:
    """Overrides tests/conftest.py's async autouse fixture of that name for this module.

    pytest-asyncio would run that one while Playwright's sync API holds a running event loop,
    which fails; nothing here uses this process's channel layer anyway.
    """


@dataclass
class Site:
    base: str
    database: Path

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the site's database directly (read-only), as an admin would see it."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """A migrated SQLite database with alice and bob, served by Daphne."""
    tmp = tmp_path_factory.mktemp("moderation-browser")
    database = tmp / "browser.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE": "false",
        "REDIS_URL": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _manage(env, "shell", "-c", CREATE_USERS)

    port = _free_port()
    log_path = tmp / "daphne.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "chatsite.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"daphne exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
                )
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"daphne did not answer /healthz within {STARTUP_TIMEOUT:.0f} s:\n"
                    f"{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.2)
        yield Site(base, database)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `make system-deps`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class User:
    name: str
    page: Page
    errors: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)  # every WebSocket the page opened

    def assert_no_script_errors(self) -> None:
        assert not self.errors, f"script errors in {self.name}'s page: {self.errors}"


def _log_in(browser: Browser, base: str, name: str) -> User:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    user = User(name, page)
    page.on("pageerror", lambda error: user.errors.append(str(error)))
    # The site's Content-Security-Policy forbids inline script and style: nothing may trip it.
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and user.errors.append(message.text)
        ),
    )
    page.on("websocket", lambda ws: user.sockets.append(ws.url))
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/", timeout=WAIT_MS)
    return user


@pytest.fixture(scope="module")
def alice(browser, site) -> Iterator[User]:
    user = _log_in(browser, site.base, "alice")
    yield user
    user.page.context.close()


@pytest.fixture(scope="module")
def bob(browser, site) -> Iterator[User]:
    user = _log_in(browser, site.base, "bob")
    yield user
    user.page.context.close()


def _expect_connected(user: User) -> None:
    expect(user.page.locator("#conn-status")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )


def _say(user: User, text: str) -> None:
    composer = user.page.locator("#composer-input")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


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
    page.goto(f"{base}/")
    page.get_by_role("textbox", name="Name").fill("Moderation lab")
    page.get_by_role("radio", name="Public").check()
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-name")).to_have_text("Moderation lab", timeout=WAIT_MS)
    _expect_connected(alice)
    room_url = page.url
    slug = room_url.rstrip("/").rsplit("/", 1)[1]

    bob.page.goto(room_url)
    _expect_connected(bob)
    expect(page.locator("#member-list")).to_contain_text("bob", timeout=WAIT_MS)
    # Moderation is not bob's business: no settings link, no slow mode, a composer.
    expect(bob.page.get_by_role("link", name="Room settings")).to_have_count(0)
    expect(bob.page.locator("#slow-mode-flag")).to_be_hidden()
    expect(bob.page.locator("#composer-input")).to_be_enabled()

    # Bob reports one of alice's messages, with a reason; the report reaches the database.
    _say(alice, "Welcome to the lab. Please be nice.")
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
    _say(bob, "First of two")
    _say(bob, "Second of two")
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

    # The settings page lists the ban and the log; a picture of it for the docs.
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
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), animations="disabled")
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
            "me": {"username": me},
            "members": [me],
            "online": [me],
            "messages": [],
            "last_read": None,
            "unread": {},
        }
    )


def test_refusals_and_close_codes_the_server_may_send_are_explained(site, alice):
    """A stand-in server (Playwright's WebSocket routing) sends what is hard to provoke:
    a mute, a close for flooding (4429), a server in trouble (4503)."""
    base = site.base
    page = alice.page
    page.goto(f"{base}/")
    page.get_by_role("textbox", name="Name").fill("Mock room")
    page.get_by_role("radio", name="Public").check()
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-name")).to_have_text("Mock room", timeout=WAIT_MS)
    room_url = page.url
    slug = room_url.rstrip("/").rsplit("/", 1)[1]

    plan = ["ready", "close 4503", "ready"]  # what each socket of the page meets
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
            if frame["type"] == "ping":
                ws.send('{"type": "pong"}')
            elif frame["type"] == "message.send":
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "muted",
                            "message": "You are muted in this room until 2031-05-04T10:30+00:00.",
                            "client_id": frame["client_id"],
                        }
                    )
                )

        ws.on_message(on_frame)
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
            re.compile(r"^Not sent: You are muted in this room until .*2031")
        )
        expect(failed.locator(".msg-status")).not_to_contain_text("T10:30")
        assert any(f["type"] == "message.send" for f in sent), sent

        # Closed for flooding: the notice counts down to a reconnect (30 to 60 s away).
        sockets[-1].close(code=4429, reason="stand-in")
        notice = mocked.locator("#room-notice")
        expect(notice).to_have_text(
            re.compile(r"^Disconnected for flooding; reconnecting in \d+ s\.$"),
            timeout=WAIT_MS,
        )
        expect(mocked.locator("#conn-status")).to_have_attribute("data-state", "reconnecting")

        # "Retry now": the server answers 4503 (in trouble), the page backs off and retries.
        mocked.locator("#conn-status").get_by_role("button", name="Retry now").click()
        expect(notice).to_have_text(
            re.compile(r"^The chat server is unavailable right now; reconnecting"),
            timeout=WAIT_MS,
        )
        expect(mocked.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )
        expect(notice).to_be_hidden()
        assert len(sockets) == 3, sockets
    finally:
        mocked.close()
    assert not errors, errors
