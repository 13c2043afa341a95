"""What the browser tests share: constants, the site they drive, a logged-in user's page."""

import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

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
STARTUP_TIMEOUT = 30.0
WAIT_MS = 10_000  # Playwright's expect: generous, the machine may be busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> None:
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


def create_users(passwords: dict[str, str]) -> str:
    """The `manage.py shell -c` script that creates these users."""
    return "\n".join(
        [
            "from django.contrib.auth import get_user_model",
            "User = get_user_model()",
            *(
                f"User.objects.create_user({name!r}, password={password!r})"
                for name, password in passwords.items()
            ),
        ]
    )


@dataclass
class Site:
    """A site served by Daphne: its base URL, its SQLite file and the environment it runs in."""

    base: str
    database: Path
    env: dict[str, str]

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the site's database directly (read-only), as an admin would see it."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=20) as db:
            return db.execute(sql, params).fetchall()


@dataclass
class User:
    name: str
    page: Page
    errors: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)  # every WebSocket the page opened

    def assert_no_script_errors(self) -> None:
        assert not self.errors, f"script errors in {self.name}'s page: {self.errors}"


def log_in(
    browser: Browser,
    base: str,
    name: str,
    password: str,
    *,
    viewport: dict[str, int] | None = None,
    init_script: str | None = None,
    locale: str | None = None,
) -> User:
    """A new browser context for `name`, logged in through the login form. `locale`: the
    browser's language (its Accept-Language), e.g. "zh-CN"."""
    context = browser.new_context(
        viewport=viewport or {"width": 1280, "height": 800}, locale=locale
    )
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
    page.on("websocket", lambda ws: user.sockets.append(ws.url))
    page.goto(f"{base}/accounts/login/")
    # By the fields' ids: their labels are in the page's language.
    page.locator("#id_username").fill(name)
    page.locator("#id_password").fill(password)
    page.locator("#id_password").press("Enter")
    expect(page).to_have_url(f"{base}/", timeout=WAIT_MS)
    return user


def expect_connected(user: User) -> None:
    expect(user.page.locator("#conn-status")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )


def say(user: User, text: str) -> None:
    composer = user.page.locator("#composer-input")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def create_room(user: User, base: str, name: str, kind: str = "Public") -> str:
    """`user` creates a room with the home page's form and lands in it; returns its URL."""
    page = user.page
    page.goto(f"{base}/")
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("radio", name=kind).check()
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-name")).to_have_text(name, timeout=WAIT_MS)
    expect_connected(user)
    return page.url


def sidebar_entry(user: User, slug: str):
    """The sidebar's entry of a conversation."""
    return user.page.locator(f'#sidebar li[data-room="{slug}"]')


def slug_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]
