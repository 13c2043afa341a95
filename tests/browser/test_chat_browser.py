"""The chat page in a real browser: Daphne serving the site, Chromium driven by Playwright.

Self-contained on purpose: its own SQLite file, in-memory channel layer and Daphne process, so it
never touches pytest-django's test database. Run it in a process of its own:
`pytest -m browser tests` (the async tests run with `-m "not browser"`).
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
PASSWORDS = {"alice": "alice-browser-pass-17", "bob": "bob-browser-pass-17"}
SCREENSHOT = ROOT / "docs" / "screenshot-room.png"
STARTUP_TIMEOUT = 30.0
WAIT_MS = 10_000  # Playwright's expect: generous, the machine may be busy


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
    """Overrides tests/conftest.py's autouse fixture of that name for this module.

    That one is async: pytest-asyncio would run it while Playwright's sync API holds a running
    event loop, which fails. Nothing here uses this process's channel layer or store anyway;
    the site runs in its own Daphne process.
    """


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """A migrated SQLite database with alice and bob, served by Daphne; yields the base URL."""
    tmp = tmp_path_factory.mktemp("browser")
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


def _log_in(browser: Browser, base: str, name: str) -> User:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    user = User(name, page)
    page.on("pageerror", lambda error: user.errors.append(str(error)))
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/", timeout=WAIT_MS)
    return user


@pytest.fixture(scope="module")
def alice(browser, server) -> User:
    return _log_in(browser, server, "alice")


@pytest.fixture(scope="module")
def bob(browser, server) -> User:
    return _log_in(browser, server, "bob")


def _expect_connected(user: User) -> None:
    expect(user.page.locator("#conn-status")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )


def _open_new_room(server: str, alice: User, bob: User, name: str) -> str:
    """Alice creates a public room through the lobby's form; both open it. Returns its URL."""
    page = alice.page
    page.goto(f"{server}/")
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("radio", name="Public").check()
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-name")).to_have_text(name, timeout=WAIT_MS)
    url = page.url
    assert url.startswith(f"{server}/rooms/")
    _expect_connected(alice)
    bob.page.goto(url)
    expect(bob.page.locator("#room-name")).to_have_text(name, timeout=WAIT_MS)
    _expect_connected(bob)
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


def _say(user: User, text: str) -> None:
    composer = user.page.locator("#composer-input")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def _message(user: User, text: str):
    return user.page.locator("#messages .msg-body").filter(has_text=text)


def test_a_message_reaches_the_other_user_and_is_confirmed(server, alice, bob):
    _open_new_room(server, alice, bob, "Weekend plans")
    expect(alice.page.locator("#member-list")).to_contain_text("bob", timeout=WAIT_MS)
    expect(bob.page.locator("#member-list .member.is-online")).to_have_count(2, timeout=WAIT_MS)
    _record_pending(alice)

    _say(alice, "Hi Bob! Are we still on for the hike on Saturday?")

    expect(_message(bob, "Are we still on for the hike")).to_have_count(1, timeout=WAIT_MS)
    # Alice's message showed at once as pending, then the server's `message` confirmed it.
    expect(alice.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    confirmed = alice.page.locator("#messages > li").filter(has_text="Are we still on")
    expect(confirmed).to_have_count(1)
    expect(confirmed).to_have_attribute("data-id", re.compile(r"^\d+$"))
    expect(confirmed).not_to_have_class("is-pending")
    seen = alice.page.evaluate("window.__pendingSeen")
    assert seen and seen[0]["pending"] and "hike" in seen[0]["text"], seen

    _say(bob, "Yes! I'll bring the map and some snacks.")
    expect(_message(alice, "bring the map")).to_have_count(1, timeout=WAIT_MS)
    _say(alice, "Great. Meet at the trailhead at 8?")
    _say(alice, "The forecast says sunny: https://example.com/forecast")
    _say(bob, "8 works. See you there")
    for user in (alice, bob):
        expect(user.page.locator("#messages > li")).to_have_count(5, timeout=WAIT_MS)
        expect(user.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    # Each message once, in the same order on both pages.
    assert (
        alice.page.locator("#messages .msg-body").all_inner_texts()
        == bob.page.locator("#messages .msg-body").all_inner_texts()
    )

    bob.page.locator("#composer-input").focus()
    bob.page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    bob.page.screenshot(path=str(SCREENSHOT))
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_html_in_a_message_is_shown_as_text(server, alice, bob):
    _open_new_room(server, alice, bob, "Markup check")
    payload = "<img src=x onerror=window.__xss=1> <b>bold?</b> <script>window.__xss=2</script>"

    _say(alice, payload)

    for user in (bob, alice):
        body = _message(user, "onerror")
        expect(body).to_have_count(1, timeout=WAIT_MS)
        expect(body).to_have_text(payload)
        assert user.page.locator("#messages img, #messages b, #messages script").count() == 0
        assert user.page.evaluate("typeof window.__xss") == "undefined"
    expect(alice.page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()
