"""Headless browser (Playwright on the system Chromium, as the dashboard's test): the admin fits
a 390 px phone and a 1440 px screen, and a task page's Start button works.

The real app under Daphne; every wait is an upper bound, nothing is timed.
"""

from __future__ import annotations

import pytest

from rpa_workbench.testing.browser import BROWSER_MARKS, WAIT_MS
from tasks.models import TaskStatus

pytestmark = BROWSER_MARKS

WIDTHS = (390, 1440)


@pytest.fixture
def admin_data(make_account, make_task, make_log):
    robot = make_account(shadow_bot_account="bot_with_a_rather_long_account_name_01", host_ip="192.168.100.200")
    task = make_task(
        account=robot,
        task_name="Daily sales report for every shop in the southern region",
        app_name="daily_sales_report_southern_region",
        schedule="*/5 * * * *",
        remark="A remark long enough to wrap on a phone screen without pushing the page sideways",
    )
    make_task(account=robot, task_name="Order sync", app_name="order_sync", status=TaskStatus.RUNNING)
    make_log(task=task, account=robot, app_name=task.app_name, duration=754)
    return task


def signed_in(browser, server, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS * 2)
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root")
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(f"{server.url}/admin/")
    return page


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_admin_pages_fit_390_and_1440_px_and_start_shows_its_message(
    live_server_factory, fake_relay, admin_user, admin_data, browser
):
    from playwright.sync_api import expect

    server = live_server_factory(env={"RPA_RELAY_URL": fake_relay.url})
    task_page = f"/admin/tasks/task/{admin_data.pk}/change/"
    for width in WIDTHS:
        page = signed_in(browser, server, width)
        for path in ("/admin/", "/admin/tasks/task/", task_page):
            page.goto(f"{server.url}{path}")
            expect(page.locator("#content")).to_be_visible()
            assert overflow(page) <= 0, f"{path} is {overflow(page)}px wider than a {width}px screen"
        if width == 1440:  # nothing cut off: every column of the task list is on screen
            page.goto(f"{server.url}/admin/tasks/task/")
            right = page.evaluate(
                "Math.max(...[...document.querySelectorAll('#result_list th')].map(th => th.getBoundingClientRect().right))"
            )
            assert right <= 1440, f"the task list's last column ends at {right}px"
        page.context.close()

    page = signed_in(browser, server, 390)
    page.goto(f"{server.url}{task_page}")
    page.locator(".control-buttons button.start").click()
    expect(page.locator("ul.messagelist")).to_contain_text("start request sent")
    expect(page.locator("ul.messagelist")).to_contain_text("waiting for the robot to confirm")
    assert page.url.endswith(task_page)
    page.context.close()
