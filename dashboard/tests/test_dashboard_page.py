"""The operators' dashboard page: who sees it, what it shows, and its live-refresh content."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import charts

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">([^<]*)<', html)
    assert match, f"no data-stat={name} in the page"
    return match.group(1).strip()


@pytest.fixture
def viewer_browser(client, viewer_user):
    client.force_login(viewer_user)
    return client


def test_root_redirects_to_the_dashboard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_anonymous_visitors_are_sent_to_the_login_page(client, settings):
    response = client.get("/dashboard/?days=30")
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next=/dashboard/%3Fdays%3D30"


def test_anonymous_content_requests_get_401_not_a_login_page(client):
    assert client.get("/dashboard/content").status_code == 401


def test_users_without_view_permissions_get_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw-nobody-123"))
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/content").status_code == 403


def test_page_renders_for_a_viewer_with_figures(viewer_browser, make_account, make_task, make_log):
    robot = make_account(shadow_bot_account="bot_live", status="running", recent_app="daily_report")
    make_task(account=robot, app_name="daily_report", status="running")
    make_log(status="completed", app_name="daily_report", duration=754.0)
    make_log(status="completed", app_name="weekly_sync", duration=30.0)
    make_log(status="failed", app_name="daily_report", duration=10.0)

    response = viewer_browser.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>运行看板 Dashboard · RPA Workbench</title>" in html
    assert stat(html, "logs-total") == "3"
    assert stat(html, "logs-completed") == "2"
    assert stat(html, "logs-failed") == "1"
    assert stat(html, "success-rate") == "66.67"
    assert stat(html, "accounts-total") == "1"
    assert stat(html, "accounts-running") == "1"
    assert stat(html, "tasks-running") == "1"
    assert stat(html, "running-count") == "1"
    assert "bot_live" in html
    assert 'id="trend-chart"' in html
    assert "new EventSource" in html and 'data-events-url="/api/v1/sse/events"' in html
    # The ranking shows daily_report first (764 s) with a readable duration.
    assert html.index("12m 44s") < html.index("30.0s")
    assert "cdn" not in html.lower()


def test_empty_database_renders_friendly_empty_states(viewer_browser):
    html = viewer_browser.get("/dashboard/").content.decode()
    assert stat(html, "logs-total") == "0"
    assert stat(html, "success-rate") == "–"  # no runs, no rate (not "0.00 %")
    assert "No executions in this period" in html
    assert "No robot is running" in html


@pytest.mark.parametrize(
    ("query", "days"), [("", 7), ("?days=30", 30), ("?days=90", 90), ("?days=13", 7), ("?days=x", 7)]
)
def test_trend_switch_draws_one_bar_per_day(viewer_browser, query, days):
    html = viewer_browser.get(f"/dashboard/{query}").content.decode()
    assert len(re.findall(r'<g class="bar" ', html)) == days
    assert re.search(rf'<a href="\?days={days}" data-days="{days}" aria-current="true"', html)


def test_chart_bars_count_completed_and_failed_per_local_day(viewer_browser, make_log):
    today = timezone.localtime(timezone.now(), SHANGHAI).date()
    yesterday = today - timedelta(days=1)
    make_log(start_time=datetime.combine(yesterday, time(0, 30), tzinfo=SHANGHAI), status="completed")
    make_log(start_time=datetime.combine(yesterday, time(9), tzinfo=SHANGHAI), status="failed")
    html = viewer_browser.get("/dashboard/").content.decode()
    assert f'data-date="{yesterday.isoformat()}" data-total="2"' in html
    assert f'data-date="{today.isoformat()}" data-total="0"' in html
    assert f"{yesterday.isoformat()} · 完成 Completed 1 · 失败 Failed 1" in html


def test_content_fragment_is_the_page_without_its_shell(viewer_browser, make_log):
    make_log()
    html = viewer_browser.get("/dashboard/content?days=30").content.decode()
    assert "<html" not in html
    assert stat(html, "logs-total") == "1"
    assert len(re.findall(r'<g class="bar" ', html)) == 30


def test_latest_executions_list_newest_first(viewer_browser, make_log):
    now = timezone.now()
    make_log(app_name="older_app", start_time=now - timedelta(hours=2))
    make_log(app_name="newest_app", start_time=now - timedelta(minutes=1), status="failed")
    html = viewer_browser.get("/dashboard/").content.decode()
    table = html[html.index('class="latest"') :]
    assert table.index("newest_app") < table.index("older_app")
    assert "失败 Failed</span>" in table


def test_admin_index_links_to_the_dashboard(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert 'href="/dashboard/"' in html
    assert 'id="dashboard-link"' in html


def test_chart_ticks_are_round_numbers():
    assert charts.nice_step(0) == 1
    assert charts.nice_step(7) == 2
    assert charts.nice_step(31) == 10
    assert charts.nice_step(2750) == 1000
    chart = charts.trend_chart(
        [{"date": "2026-01-20", "totalExecutions": 31, "completed": 29, "failed": 2, "avgDuration": 1.0}]
    )
    assert [tick["label"] for tick in chart.y_ticks] == ["0", "10", "20", "30", "40"]
    bar = chart.bars[0]
    assert bar.completed_y + bar.completed_height == chart.plot_bottom
    assert bar.failed_y + bar.failed_height == pytest.approx(bar.completed_y)


def test_viewers_can_sign_in_through_the_dashboard_login(client, viewer_user):
    assert client.get("/dashboard/login/").status_code == 200
    credentials = {"username": "viewer1", "password": "pw-viewer1", "next": "/dashboard/"}
    response = client.post("/dashboard/login/", credentials)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_dashboard_login_refuses_a_wrong_password(client, viewer_user):
    response = client.post("/dashboard/login/", {"username": "viewer1", "password": "nope"})
    assert response.status_code == 200
    assert "Wrong username or password" in response.content.decode()


@pytest.mark.parametrize(
    ("chinese", "english"),
    [
        ("执行记录", "Executions"),
        ("成功率", "Success rate"),
        ("机器人账号", "Robot accounts"),
        ("任务", "Tasks"),
        ("执行趋势", "Executions per day"),
        ("耗时排行", "Run time, last 7 days"),
        ("正在运行", "Running now"),
        ("最近执行", "Latest executions"),
        ("完成", "Completed"),
        ("失败", "Failed"),
    ],
)
def test_every_section_is_labelled_in_chinese_and_english(viewer_browser, chinese, english):
    html = viewer_browser.get("/dashboard/").content.decode()
    assert chinese in html
    assert english in html


def test_page_is_made_for_phones_too(viewer_browser):
    html = viewer_browser.get("/dashboard/").content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media (max-width: 420px)" in html  # one column of cards on a phone
    assert ".table-wrap { overflow-x: auto; }" in html  # the wide table scrolls in its panel, not the page


def test_running_robots_lists_only_running_accounts(viewer_browser, make_account):
    make_account(
        shadow_bot_account="bot_busy",
        host_ip="10.0.0.7",
        port=8001,
        status="running",
        recent_app="daily_report",
    )
    make_account(shadow_bot_account="bot_idle", status="pending")
    make_account(shadow_bot_account="bot_broken", status="failed")
    html = viewer_browser.get("/dashboard/").content.decode()
    running = html[html.index('id="running-title"') : html.index('id="latest-title"')]
    assert "bot_busy" in running and "10.0.0.7:8001" in running and "daily_report" in running
    assert "bot_idle" not in running and "bot_broken" not in running
    assert stat(html, "running-count") == "1"


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/dashboard/?days=90").status_code == 200
    return len(captured.captured_queries)


def test_page_runs_the_same_number_of_queries_whatever_the_data(
    viewer_browser, make_account, make_task, make_log, django_assert_num_queries
):
    viewer_browser.get("/dashboard/")  # the session and permissions are loaded once per request
    empty = page_queries(viewer_browser)
    now = timezone.now()
    for index in range(30):
        robot = make_account(status="running" if index % 3 == 0 else "pending")
        make_task(account=robot, status="running" if index % 3 == 0 else "pending")
        make_log(app_name=f"app_{index % 6}", start_time=now - timedelta(days=index, minutes=index))
    with django_assert_num_queries(empty):
        assert viewer_browser.get("/dashboard/?days=90").status_code == 200
    # 15, the robots online / offline card's grouped query (accounts.presence), the job queue
    # card's job waiting longest and its per-pool rows (jobs/dashboard.py)
    assert empty <= 18
