"""Headless-browser smoke tests: the real app under Daphne, driven by Debian's Chromium.

Logs in through the login form, opens the dashboard, finds the chart, then a robot reports an
execution through the webhook and the summary card changes without a reload (the page listens
to the session-authenticated event stream). Also: the 7/30/90-day switch redraws the chart in
place, and the page fits a phone's width.

Every wait is generous and nothing is timed: CI runs this on a loaded 2-core machine.
"""

from __future__ import annotations

import pytest
import requests

from conftest import WEBHOOK_TOKEN
from rpa_workbench.testing.browser import BROWSER_MARKS, WAIT_MS

pytestmark = BROWSER_MARKS


def open_dashboard(browser, server, user, *, width: int = 1280, height: int = 900, path: str = "/dashboard/"):
    """A new page, signed in as `user` through the login form the dashboard redirects to."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS * 2)
    page.goto(f"{server.url}{path}")
    assert "/login/" in page.url, f"anonymous visitor should land on a login form, got {page.url}"
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-" + user.username)
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(f"{server.url}{path}")
    return page


@pytest.fixture
def live_robot(make_account, make_task):
    robot = make_account(shadow_bot_account="bot_live", host_ip="192.168.1.100", port=8000)
    make_task(account=robot, app_name="daily_report")
    return robot


@pytest.fixture
def busy_robot(make_account):
    return make_account(shadow_bot_account="bot_with_a_rather_long_account_name", status="running")


def report_run(server, **fields) -> None:
    body = {
        "shadow_bot_account": "bot_live",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": "2026-01-21T14:30:00+08:00",
        "end_time": "2026-01-21T14:42:34+08:00",
        "duration_seconds": 754,
        **fields,
    }
    response = requests.post(
        f"{server.url}/api/v1/webhook/execution-complete",
        headers={"X-Webhook-Token": WEBHOOK_TOKEN},
        json=body,
        timeout=WAIT_MS / 1000,
    )
    assert response.status_code == 200, response.text


def test_dashboard_shows_the_chart_and_updates_live_after_a_webhook(
    live_server_factory, admin_user, live_robot, browser
):
    from playwright.sync_api import expect

    server = live_server_factory()
    page = open_dashboard(browser, server, admin_user)

    expect(page.locator("#trend-chart")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('[data-stat="logs-total"]')).to_have_text("0", timeout=WAIT_MS)
    # The event stream is open (session-authenticated) before the robot reports.
    expect(page.locator("#live-status.online")).to_be_visible(timeout=WAIT_MS)
    page.evaluate("window.__notReloaded = true")

    report_run(server)

    expect(page.locator('[data-stat="logs-total"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator('[data-stat="logs-completed"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator('[data-stat="success-rate"]')).to_have_text("100.00%", timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded instead of refreshing in place"

    report_run(
        server,
        status="failed",
        start_time="2026-01-21T15:30:00+08:00",
        end_time="2026-01-21T15:30:05+08:00",
        duration_seconds=5,
    )

    expect(page.locator('[data-stat="logs-failed"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator('[data-stat="success-rate"]')).to_have_text("50.00%", timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded === true")
    page.close()


def test_trend_switch_redraws_the_chart_in_place(live_server_factory, viewer_user, browser):
    from playwright.sync_api import expect

    server = live_server_factory()
    page = open_dashboard(browser, server, viewer_user)
    bars = page.locator("#trend-chart g.bar")
    expect(bars).to_have_count(7, timeout=WAIT_MS)
    page.evaluate("window.__notReloaded = true")

    page.click('a[data-days="30"]')
    expect(bars).to_have_count(30, timeout=WAIT_MS)
    expect(page.locator('a[data-days="30"][aria-current="true"]')).to_be_visible(timeout=WAIT_MS)
    assert page.url.endswith("/dashboard/?days=30")

    page.click('a[data-days="90"]')
    expect(bars).to_have_count(90, timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded === true"), "the switch reloaded the page"
    page.close()


def test_dashboard_fits_a_phone_screen(live_server_factory, viewer_user, busy_robot, browser):
    from playwright.sync_api import expect

    server = live_server_factory()
    page = open_dashboard(browser, server, viewer_user, width=375, height=740)

    expect(page.locator("#trend-chart")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('[data-stat="accounts-running"]')).to_have_text("1", timeout=WAIT_MS)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a 375px phone screen"
    chart_width = page.evaluate("document.getElementById('trend-chart').getBoundingClientRect().width")
    assert 0 < chart_width <= 375
    page.close()
