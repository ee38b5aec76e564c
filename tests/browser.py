"""Headless Chromium for the page tests: Debian's /usr/bin/chromium driven by Playwright's sync API.

Pages run under Peekr's real Content-Security-Policy (no eval): give wait_for_function a function,
"() => document.querySelector(...)", since a bare expression is eval'd in the page and the policy refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# No sandbox (containers run as root), and nothing that phones home or updates itself during a test.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"  # git-ignored


@contextmanager
def browser_page(
    *, width: int = 1440, height: int = 900, javascript: bool = True, timezone_id: str | None = None
) -> Iterator[Page]:
    """A fresh page in a fresh headless browser (in ``timezone_id``'s time zone if given); closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, java_script_enabled=javascript, timezone_id=timezone_id
            )
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def login(page: Page, live_server, next_path: str, *, username: str = "owner", password: str = "pw-for-tests-1"):
    """Open ``next_path`` (the login page comes first), sign in, and wait until the page is ``next_path``."""
    page.goto(f"{live_server.url}{next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))
