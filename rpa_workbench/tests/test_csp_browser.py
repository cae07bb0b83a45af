"""The admin, the dashboard (its chart and live updates) and the API docs work under our
Content-Security-Policy (issue 23), in headless Chromium: no CSP violation reaches the console
or the page's `securitypolicyviolation` events, and each page does its job.

The real app under Daphne; every wait is an upper bound, nothing is timed."""

from __future__ import annotations

import pytest

from rpa_workbench.testing.browser import BROWSER_MARKS, WAIT_MS

pytestmark = BROWSER_MARKS

WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def some_data(make_account, make_task, make_log):
    robot = make_account(shadow_bot_account="bot_csp", host_ip="192.168.1.50")
    task = make_task(account=robot, app_name="daily_report")
    make_log(task=task, account=robot, app_name=task.app_name, duration=30)
    return task


def test_admin_dashboard_and_docs_work_with_no_csp_violation(live_server_factory, admin_user, some_data, browser):
    from playwright.sync_api import expect

    server = live_server_factory()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS * 2)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    violations: list[str] = []

    def visit(path: str) -> None:
        response = page.goto(f"{server.url}{path}")
        assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"], path

    def collect(path: str) -> None:
        violations.extend(f"{path}: {v}" for v in page.evaluate("window.__cspViolations"))

    visit("/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root")
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(f"{server.url}/admin/")
    collect("/admin/")

    for path in ("/admin/tasks/task/", f"/admin/tasks/task/{some_data.pk}/change/", "/admin/alerts/channel/add/"):
        visit(path)
        expect(page.locator("#content")).to_be_visible()
        collect(path)

    visit("/dashboard/")
    expect(page.locator("#trend-chart")).to_be_visible()
    expect(page.locator("#live-status.online")).to_be_visible()  # the event stream opened
    page.click('a[data-days="30"]')  # the script redraws the chart in place
    expect(page.locator("#trend-chart g.bar")).to_have_count(30)
    collect("/dashboard/")

    visit("/docs")
    expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI read the schema
    collect("/docs")

    visit("/redoc")
    expect(page.locator("#redoc-container h1, redoc h1").first).to_be_visible()
    collect("/redoc")
    context.close()

    reported = [line for line in console if "Content Security Policy" in line or "Content-Security-Policy" in line]
    assert violations == [] and reported == [], (violations, reported)
