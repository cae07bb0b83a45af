"""Headless Chromium for the browser tests (Playwright on Debian's Chromium): where it is, the
marks that skip a test when it or Playwright is missing, and how it is started (the `browser`
fixture of conftest.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000  # an upper bound for each step, not a measurement


def find_chromium() -> str | None:
    """$CHROMIUM_PATH if set, else Debian's `chromium` (or `chromium-browser`) on the PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium found (looked at $CHROMIUM_PATH, then chromium/chromium-browser on PATH); "
        "install it with `apt-get install chromium` — .ci/run does",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install -r requirements.txt)",
    ),
]


def launched_chromium(monkeypatch) -> Iterator[Any]:
    """Chromium, started last: tests list it after their data fixtures and touch the database
    no more, because a database call made while Playwright runs opens a second connection that
    outlives the test (PostgreSQL then cannot drop the test database)."""
    from playwright.sync_api import expect, sync_playwright

    # An `expect` waits as long as any other step (its own default is 5 s: too short for ReDoc
    # rendering on a busy 2-core machine).
    expect.set_options(timeout=WAIT_MS)
    # Playwright's sync API keeps an event loop on this thread; Django would then refuse the
    # test's own (synchronous) database calls, which never run inside that loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True, timeout=WAIT_MS * 2
        )
        yield chromium
        chromium.close()


def signed_in(browser, server, width: int = 1280, language: str | None = None, navigation_ms: int | None = None):
    """A new page of a new context `width` px wide, signed in to the admin as the `admin_user`
    fixture's root (and asking for `language`, when given)."""
    headers = {"Accept-Language": language} if language else {}
    page = browser.new_context(viewport={"width": width, "height": 900}, extra_http_headers=headers).new_page()
    page.set_default_timeout(WAIT_MS)
    if navigation_ms is not None:
        page.set_default_navigation_timeout(navigation_ms)
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root")
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(f"{server.url}/admin/")
    return page
