"""Headless-browser smoke test: the real app under Daphne, driven by Debian's Chromium.

Logs in through the admin login form, opens the dashboard, finds the chart, then a robot
reports an execution through the webhook and the summary card changes without a reload.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
import requests

from conftest import WEBHOOK_TOKEN

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install -r requirements.txt)",
    ),
]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django would then refuse the
    # test's own (synchronous) database calls, which never run inside that loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


def test_dashboard_shows_the_chart_and_updates_live_after_a_webhook(
    live_server_factory, browser, admin_user, make_account, make_task
):
    from playwright.sync_api import expect

    robot = make_account(shadow_bot_account="bot_live", host_ip="192.168.1.100", port=8000)
    make_task(account=robot, app_name="daily_report")
    server = live_server_factory()
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    page.goto(f"{server.url}/dashboard/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "pw-" + admin_user.username)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/dashboard/")

    expect(page.locator("#trend-chart")).to_be_visible()
    expect(page.locator('[data-stat="logs-total"]')).to_have_text("0")
    # The event stream is open (session-authenticated) before the robot reports.
    expect(page.locator("#live-status.online")).to_be_visible(timeout=15_000)
    page.evaluate("window.__notReloaded = true")

    response = requests.post(
        f"{server.url}/api/v1/webhook/execution-complete",
        headers={"X-Webhook-Token": WEBHOOK_TOKEN},
        json={
            "shadow_bot_account": "bot_live",
            "app_name": "daily_report",
            "status": "completed",
            "start_time": "2026-01-21T14:30:00+08:00",
            "end_time": "2026-01-21T14:42:34+08:00",
            "duration_seconds": 754,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text

    expect(page.locator('[data-stat="logs-total"]')).to_have_text("1", timeout=15_000)
    expect(page.locator('[data-stat="logs-completed"]')).to_have_text("1")
    expect(page.locator('[data-stat="success-rate"]')).to_have_text("100.00%")
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded instead of refreshing in place"
    page.close()
