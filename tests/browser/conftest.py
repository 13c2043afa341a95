"""Fixtures of the browser tests: a Daphne-served site per module, Chromium, alice and bob.

Each module names its users in a module-level `PASSWORDS` ({name: password}); it may set
`VIEWPORT` ({"width": ..., "height": ...}) for their pages.
"""

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from .helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    STARTUP_TIMEOUT,
    Site,
    User,
    create_users,
    free_port,
    log_in,
    manage,
)


@pytest.fixture(autouse=True)
def fresh_ephemeral_state() -> None:
    """Overrides tests/conftest.py's autouse fixture of that name for every browser test.

    That one is async: pytest-asyncio would run it while Playwright's sync API holds a running
    event loop, which fails. Nothing here uses this process's channel layer or store anyway;
    the site runs in its own Daphne process.
    """


@pytest.fixture(scope="module")
def site(request, tmp_path_factory) -> Iterator[Site]:
    """A migrated SQLite database with the module's users, served by Daphne."""
    tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
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
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(env, "shell", "-c", create_users(request.module.PASSWORDS))

    port = free_port()
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
        yield Site(base, database, env)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def server(site) -> str:
    """The site's base URL."""
    return site.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `make system-deps`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _user(request, browser: Browser, site: Site, name: str) -> Iterator[User]:
    viewport = getattr(request.module, "VIEWPORT", None)
    user = log_in(browser, site.base, name, request.module.PASSWORDS[name], viewport=viewport)
    yield user
    user.page.context.close()


@pytest.fixture(scope="module")
def alice(request, browser, site) -> Iterator[User]:
    yield from _user(request, browser, site, "alice")


@pytest.fixture(scope="module")
def bob(request, browser, site) -> Iterator[User]:
    yield from _user(request, browser, site, "bob")
