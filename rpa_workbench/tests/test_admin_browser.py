"""Headless browser (Playwright on the system Chromium, as the dashboard's test): every admin
list and change page, the dashboard and a log page, in Chinese and English, at 1280 px and on a
390 px phone — nothing wider than the screen, no column cut off or spilling over the next, no
word broken inside, no English message of ours on a Chinese page, no UTC time; and a task
page's Start button works. Screenshots of every page go under var/screenshots/ when it fails.

The real app under Daphne; every wait is an upper bound, nothing is timed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from rpa_workbench.testing import browser as browser_pages
from rpa_workbench.testing import page_checks, screens
from rpa_workbench.testing.browser import BROWSER_MARKS, WAIT_MS
from rpa_workbench.testing.showcase import admin_pages, build_showcase, stored_datetimes, utc_spellings
from tasks.models import TaskStatus

pytestmark = BROWSER_MARKS

WIDTHS = (1280, 390)
LANGUAGES = ("en", "zh-hans")


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


def signed_in(browser, server, width: int, language: str = "en"):
    return browser_pages.signed_in(browser, server, width, language, navigation_ms=WAIT_MS * 2)


def matrix() -> list[tuple[str, int]]:
    """Both languages at both widths on SQLite; on PostgreSQL (CI's second run, same pages and
    code) one language per width, to keep the run short."""
    if connection.vendor == "sqlite":
        return [(language, width) for language in LANGUAGES for width in WIDTHS]
    return [("en", 1280), ("zh-hans", 390)]


@pytest.fixture
def showcase(admin_user):
    shown = build_showcase()
    return shown, admin_pages(shown), utc_spellings(stored_datetimes())


def problems_on(page, language: str, wrong_times: set[str], path: str) -> list[str]:
    found = screens.layout_problems(page)
    text = page.evaluate("document.title + '\\n' + document.body.innerText")
    if language == "zh-hans" and path != "/dashboard/":  # the dashboard is bilingual by design
        found += [
            f"English message on a Chinese page: {fragment!r} in …{text[max(0, text.find(fragment) - 30):text.find(fragment) + 40]}…"
            for fragment in page_checks.untranslated(text)
        ]
    found += [f"a UTC time: {time}" for time in page_checks.utc_times(text, wrong_times)]
    return found


def test_every_admin_page_fits_1280_and_390_px_in_both_languages(live_server_factory, showcase, browser, request):
    shown, pages, wrong_times = showcase
    server = live_server_factory(env={"RPA_EMBEDDED_DISPATCHER": "false"})  # the showcase stays as built
    directory = Path(tempfile.mkdtemp(prefix="rpa-screens-"))
    problems: dict[str, list[str]] = {}
    try:
        for language, width in matrix():
            page = signed_in(browser, server, width, language)
            for path in pages:
                response = page.goto(f"{server.url}{path}")
                assert response is not None and response.status == 200, (path, response and response.status)
                page.screenshot(path=str(directory / screens.shot_name(language, width, path)), full_page=True)
                found = problems_on(page, language, wrong_times, path)
                if found:
                    problems[f"{language} {width}px {path}"] = found
            page.context.close()
        assert problems == {}, f"screenshots in {screens.SCREENSHOTS / request.node.name}\n" + "\n".join(
            f"{where}: {found}" for where, found in problems.items()
        )
    finally:
        screens.keep_screenshots(directory, request.node.name, failed=bool(problems))
        shutil.rmtree(directory, ignore_errors=True)


def test_start_on_a_task_page_shows_where_its_job_is(live_server_factory, fake_relay, admin_user, admin_data, browser):
    from playwright.sync_api import expect

    server = live_server_factory(env={"RPA_RELAY_URL": fake_relay.url})
    task_page = f"/admin/tasks/task/{admin_data.pk}/change/"
    page = signed_in(browser, server, 390)
    page.goto(f"{server.url}{task_page}")
    page.locator(".control-buttons button.start").click()
    expect(page.locator("ul.messagelist")).to_contain_text("start request sent to the robot")
    expect(page.locator("ul.messagelist")).to_contain_text("waiting for the robot to confirm")
    assert page.url.endswith(task_page)
    page.context.close()
