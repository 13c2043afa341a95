"""Direct messages, unread badges, "Seen" and mentions in a real browser.

Self-contained like test_chat_browser.py: its own SQLite file, in-memory channel layer and
Daphne process on a free port, Chromium driven by Playwright's sync API. Run it in a process of
its own: `pytest -m browser tests`.
"""

import os
import re
import socket
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
PASSWORDS = {"alice": "alice-direct-pass-17", "bob": "bob-direct-pass-17"}
SCREENSHOT = ROOT / "docs" / "screenshot-lobby.png"
STARTUP_TIMEOUT = 30.0
WAIT_MS = 10_000  # Playwright's expect: generous, the machine may be busy

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


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """A migrated SQLite database with alice and bob, served by Daphne; yields the base URL."""
    tmp = tmp_path_factory.mktemp("direct-browser")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'browser.sqlite3'}",
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
        yield base
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

    def assert_no_script_errors(self) -> None:
        assert not self.errors, f"script errors in {self.name}'s page: {self.errors}"


def _log_in(browser: Browser, base: str, name: str, init_script: str | None = None) -> User:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    if init_script:
        context.add_init_script(init_script)
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
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/", timeout=WAIT_MS)
    return user


@pytest.fixture(scope="module")
def alice(browser, server) -> Iterator[User]:
    user = _log_in(browser, server, "alice")
    yield user
    user.page.context.close()


@pytest.fixture(scope="module")
def bob(browser, server) -> Iterator[User]:
    user = _log_in(browser, server, "bob")
    yield user
    user.page.context.close()


def _expect_connected(user: User) -> None:
    expect(user.page.locator("#conn-status")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )


def _expect_lobby_live(user: User) -> None:
    expect(user.page.locator("#lobby")).to_have_attribute("data-live", "connected", timeout=WAIT_MS)


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
    _expect_lobby_live(bob)
    expect(bob.page).not_to_have_title(re.compile(r"^\("))

    # Alice finds bob with the lobby's search and opens the conversation.
    alice.page.goto(f"{server}/")
    alice.page.get_by_role("combobox", name="Find someone to message").fill("bo")
    result = alice.page.locator("#user-search-results").get_by_role("link", name=re.compile("bob"))
    expect(result).to_have_count(1, timeout=WAIT_MS)
    result.click()
    expect(alice.page).to_have_url(re.compile(r"/rooms/dm-\d+-\d+/$"), timeout=WAIT_MS)
    slug = alice.page.url.rstrip("/").rsplit("/", 1)[1]
    expect(alice.page.locator("#room-name")).to_have_text("bob")
    expect(alice.page).to_have_title(re.compile(r"^@bob · Chat$"))
    _expect_connected(alice)
    _say(alice, "hi bob")

    # Bob's lobby, without a reload: the new conversation, one unread message, the title.
    entry = bob.page.locator(f'#direct-list [data-room="{slug}"]')
    expect(entry).to_have_count(1, timeout=WAIT_MS)
    expect(entry.locator(".room-name")).to_have_text("alice")
    expect(entry.locator(".room-preview")).to_have_text("alice: hi bob")
    badge = entry.locator(".badge")
    expect(badge).to_be_visible(timeout=WAIT_MS)
    expect(badge.locator(".badge-count")).to_have_text("1")
    expect(bob.page).to_have_title(re.compile(r"^\(1\) "), timeout=WAIT_MS)
    expect(bob.page.locator("#direct-empty")).to_be_hidden()

    bob.page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    bob.page.screenshot(path=str(SCREENSHOT), animations="disabled")

    # Bob opens it and reads it; Alice sees "Seen" under her message.
    entry.get_by_role("link").click()
    expect(bob.page).to_have_url(f"{server}/rooms/{slug}/", timeout=WAIT_MS)
    _expect_connected(bob)
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

    # Back in the lobby, the conversation is read.
    bob.page.goto(f"{server}/")
    _expect_lobby_live(bob)
    expect(entry.locator(".badge")).to_be_hidden()
    expect(entry.locator(".room-preview")).to_have_text("alice: see you on Saturday")
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_mention_elsewhere_notifies_and_is_highlighted_in_the_room(browser, server, alice):
    # Bob, in a browser whose desktop notifications the test can observe.
    bob = _log_in(browser, server, "bob", init_script=FAKE_NOTIFICATIONS)
    try:
        page = alice.page
        page.goto(f"{server}/")
        page.get_by_role("textbox", name="Name").fill("Trail talk")
        page.get_by_role("radio", name="Public").check()
        page.get_by_role("button", name="Create room").click()
        expect(page.locator("#room-name")).to_have_text("Trail talk", timeout=WAIT_MS)
        _expect_connected(alice)
        room_url = page.url

        # Bob joins the room, then goes to another one: his direct conversation with alice.
        bob.page.goto(room_url)
        _expect_connected(bob)
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
        _expect_connected(bob)
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

        # In the room, the message is highlighted for bob (not for alice, who wrote it).
        bob.page.evaluate("window.__hidden = false")
        toast.click()
        expect(bob.page).to_have_url(room_url, timeout=WAIT_MS)
        _expect_connected(bob)
        mention = _message(bob, "@bob look")
        expect(mention).to_have_count(1, timeout=WAIT_MS)
        expect(mention).to_have_class(re.compile(r"\bis-mention\b"))
        expect(mention.locator(".mention-me")).to_have_text("@bob")
        expect(_message(alice, "@bob look")).not_to_have_class(re.compile(r"\bis-mention\b"))
        expect(_message(alice, "@bob look").locator(".mention")).to_have_text("@bob")
        expect(bob.page).not_to_have_title(re.compile(r"^\("), timeout=WAIT_MS)
        alice.assert_no_script_errors()
        bob.assert_no_script_errors()
    finally:
        bob.page.context.close()
