"""API.md §4: dashboard statistics, performance buckets and the duration ranking."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from dashboard import services
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

STATS = "/api/v1/dashboard/stats"
PERFORMANCE = "/api/v1/dashboard/performance"
RANK = "/api/v1/dashboard/execution-rank"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = zoneinfo.ZoneInfo("UTC")


def local_today(tz=SHANGHAI):
    return timezone.localtime(timezone.now(), tz).date()


def make_log_without_duration(make_log, **fields):
    """A run whose robot reported no duration (the shared factory always sets one)."""
    fields.pop("duration")
    log = make_log(**fields)
    ExecutionLog.objects.filter(pk=log.pk).update(duration=None, end_time=None)
    return log


def at(day, hour: int, minute: int = 0, tz=SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


# --- stats ---------------------------------------------------------------------------------


def test_stats_lists_every_status_with_zeros_on_an_empty_database(viewer_client):
    response = viewer_client.get(STATS)
    assert response.status_code == 200
    body = response.json()
    assert body["accounts"] == {
        "total": 0,
        "by_status": {"pending": 0, "completed": 0, "failed": 0, "running": 0},
    }
    assert body["tasks"] == {
        "total": 0,
        "by_status": {"pending": 0, "running": 0},
        "completed_count": 0,
        "failed_count": 0,
    }
    assert body["execution_logs"] == {
        "total": 0,
        "by_status": {"completed": 0, "failed": 0},
        "success_rate": 0.0,
    }
    assert body["generated_at"]


def test_stats_counts_by_status_and_success_rate(viewer_client, make_account, make_task, make_log):
    running = make_account(status="running")
    make_account(status="failed")
    make_account()
    make_task(account=running, status="running")
    make_task(account=running)
    make_task()
    for _ in range(2):
        make_log(status="completed")
    make_log(status="failed")

    body = viewer_client.get(STATS).json()

    assert body["accounts"]["total"] == 4  # one more account made by the last make_task()
    assert body["accounts"]["by_status"] == {"pending": 2, "completed": 0, "failed": 1, "running": 1}
    assert body["tasks"] == {
        "total": 3,
        "by_status": {"pending": 2, "running": 1},
        "completed_count": 2,
        "failed_count": 1,
    }
    assert body["execution_logs"] == {
        "total": 3,
        "by_status": {"completed": 2, "failed": 1},
        "success_rate": 66.67,
    }


def test_stats_runs_four_queries_with_no_logs(django_assert_num_queries):
    # Four, plus one for the jobs (API.md §9.2) and one for the work queues (§13).
    with django_assert_num_queries(6):
        services.dashboard_stats()


def test_stats_runs_the_same_four_queries_with_many_logs(
    django_assert_num_queries, make_account, make_task, make_log
):
    for index in range(60):
        make_log(status="failed" if index % 4 == 0 else "completed", app_name=f"app_{index % 7}")
    make_task(account=make_account(status="running"))
    with django_assert_num_queries(6):
        stats = services.dashboard_stats()
    assert stats["execution_logs"]["by_status"] == {"completed": 45, "failed": 15}
    assert stats["execution_logs"]["success_rate"] == 75.0


def test_stats_endpoint_query_count_does_not_grow_with_logs(
    admin_client_api, django_assert_num_queries, make_log
):
    # One query authenticates the JWT's user, one reads the newest event (the cached figures'
    # key); the aggregates answer (logs, jobs, work queues).
    with django_assert_num_queries(8):
        assert admin_client_api.get(STATS).status_code == 200
    for _ in range(40):
        make_log()  # without the event the real writer publishes: drop the cached figures
    caches[settings.RPA_LIST_CACHE_ALIAS].clear()
    with django_assert_num_queries(8):
        assert admin_client_api.get(STATS).json()["execution_logs"]["total"] == 40


# --- performance ---------------------------------------------------------------------------


def test_a_run_at_half_past_midnight_in_shanghai_is_the_previous_day_in_utc(viewer_client, make_log):
    day = local_today() - timedelta(days=2)
    make_log(start_time=at(day, 0, 30), duration=100.0)

    shanghai = viewer_client.get(PERFORMANCE, {"days": 7, "timezone": "Asia/Shanghai"}).json()
    utc = viewer_client.get(PERFORMANCE, {"days": 7, "timezone": "UTC"}).json()

    assert [b["date"] for b in shanghai["dailyStats"]] == [day.isoformat()]
    assert [b["date"] for b in utc["dailyStats"]] == [(day - timedelta(days=1)).isoformat()]


def test_timezone_defaults_to_shanghai(viewer_client, make_log):
    day = local_today() - timedelta(days=1)
    make_log(start_time=at(day, 0, 30))
    body = viewer_client.get(PERFORMANCE).json()
    assert body["period"] == "last_7_days"
    assert [b["date"] for b in body["dailyStats"]] == [day.isoformat()]


def test_daily_buckets_have_exact_numbers_ascending(viewer_client, make_log):
    today = local_today()
    older = today - timedelta(days=3)
    make_log(start_time=at(today, 9), status="completed", duration=100.0)
    make_log(start_time=at(older, 9), status="completed", duration=200.0)
    make_log(start_time=at(older, 10), status="completed", duration=300.0)
    make_log_without_duration(make_log, start_time=at(older, 11), status="failed", duration=None)

    body = viewer_client.get(PERFORMANCE, {"days": 7}).json()

    assert body == {
        "period": "last_7_days",
        "dailyStats": [
            {
                "date": older.isoformat(),
                "totalExecutions": 3,
                "completed": 2,
                "failed": 1,
                "avgDuration": 250.0,
            },
            {
                "date": today.isoformat(),
                "totalExecutions": 1,
                "completed": 1,
                "failed": 0,
                "avgDuration": 100.0,
            },
        ],
        "totalExecutions": 4,
        "completionRate": 0.75,
        "avgDuration": 200.0,
    }


def test_rates_and_averages_are_rounded(viewer_client, make_log):
    today = local_today()
    make_log(start_time=at(today, 1), status="completed", duration=100.0)
    make_log(start_time=at(today, 2), status="completed", duration=100.0)
    make_log(start_time=at(today, 3), status="failed", duration=101.0)
    body = viewer_client.get(PERFORMANCE, {"days": 1}).json()
    assert body["completionRate"] == 0.67
    assert body["avgDuration"] == 100.3
    assert body["dailyStats"][0]["avgDuration"] == 100.3


def test_days_window_is_whole_local_days_ending_today(viewer_client, make_log):
    first_day = local_today() - timedelta(days=2)
    make_log(start_time=at(first_day, 0, 0), app_name="first_minute")
    make_log(start_time=at(first_day, 0, 0) - timedelta(seconds=1), app_name="just_before")
    make_log(start_time=at(local_today(), 23, 59), app_name="tonight")

    body = viewer_client.get(PERFORMANCE, {"days": 3}).json()

    assert body["period"] == "last_3_days"
    assert body["totalExecutions"] == 2
    assert [b["date"] for b in body["dailyStats"]] == [first_day.isoformat(), local_today().isoformat()]
    wider = viewer_client.get(PERFORMANCE, {"days": 4}).json()
    assert wider["totalExecutions"] == 3


def test_an_empty_window_answers_zeros(viewer_client, make_log):
    make_log(start_time=timezone.now() - timedelta(days=30))
    body = viewer_client.get(PERFORMANCE, {"days": 7}).json()
    assert body == {
        "period": "last_7_days",
        "dailyStats": [],
        "totalExecutions": 0,
        "completionRate": 0.0,
        "avgDuration": 0.0,
    }


def test_month_buckets_follow_the_requested_zone(viewer_client, make_log):
    this_month = local_today().replace(day=1)
    previous_month = (this_month - timedelta(days=1)).replace(day=1)
    # 00:30 on the 1st in Shanghai is still the previous month in UTC.
    make_log(start_time=at(this_month, 0, 30), status="completed", duration=60.0)
    make_log(start_time=at(previous_month, 12), status="failed", duration=30.0)
    make_log(start_time=at(previous_month, 13), status="completed", duration=90.0)

    shanghai = viewer_client.get(PERFORMANCE, {"days": 90, "dimension": "month"}).json()
    utc = viewer_client.get(PERFORMANCE, {"days": 90, "dimension": "month", "timezone": "UTC"}).json()

    assert shanghai["dailyStats"] == [
        {
            "date": previous_month.strftime("%Y-%m"),
            "totalExecutions": 2,
            "completed": 1,
            "failed": 1,
            "avgDuration": 60.0,
        },
        {
            "date": this_month.strftime("%Y-%m"),
            "totalExecutions": 1,
            "completed": 1,
            "failed": 0,
            "avgDuration": 60.0,
        },
    ]
    assert utc["dailyStats"] == [
        {
            "date": previous_month.strftime("%Y-%m"),
            "totalExecutions": 3,
            "completed": 2,
            "failed": 1,
            "avgDuration": 60.0,
        },
    ]
    assert shanghai["totalExecutions"] == 3
    assert shanghai["completionRate"] == 0.67


def test_daily_series_fills_missing_days_with_zeros(make_log):
    today = local_today()
    make_log(start_time=at(today - timedelta(days=1), 8), duration=10.0)
    perf = services.performance(days=3, dimension="day", tz_name="Asia/Shanghai")
    series = services.daily_series(perf)
    assert [(d["date"], d["totalExecutions"]) for d in series] == [
        ((today - timedelta(days=2)).isoformat(), 0),
        ((today - timedelta(days=1)).isoformat(), 1),
        (today.isoformat(), 0),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "abc"}, "days"),
        ({"days": "7.5"}, "days"),
        ({"dimension": "week"}, "dimension"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
    ],
)
def test_bad_performance_parameters_are_400(viewer_client, params, field):
    response = viewer_client.get(PERFORMANCE, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"].startswith(f"{field}:")
    assert field in body["details"]


def test_empty_parameters_mean_the_defaults(viewer_client):
    body = viewer_client.get(PERFORMANCE, {"days": "", "dimension": "", "timezone": ""}).json()
    assert body["period"] == "last_7_days"
    assert viewer_client.get(RANK, {"limit": ""}).status_code == 200


@pytest.mark.parametrize("days", [1, 365])
def test_days_bounds_are_allowed(viewer_client, days):
    assert viewer_client.get(PERFORMANCE, {"days": days}).json()["period"] == f"last_{days}_days"


# --- execution rank ------------------------------------------------------------------------


def test_rank_orders_apps_by_duration_with_trends(viewer_client, make_log):
    now = timezone.now()
    this_week = now - timedelta(days=1)
    last_week = now - timedelta(days=10)
    for minute in range(3):
        make_log(app_name="app_a", start_time=this_week + timedelta(minutes=minute), duration=100.0)
    for minute in range(2):
        make_log(app_name="app_a", start_time=last_week + timedelta(minutes=minute), duration=999.0)
    make_log(app_name="app_b", start_time=this_week, duration=500.0)
    make_log(app_name="app_c", start_time=last_week, duration=5000.0)
    for minute in range(2):
        make_log(app_name="app_d", start_time=this_week + timedelta(minutes=minute), duration=25.0)
    for minute in range(4):
        make_log(app_name="app_d", start_time=last_week + timedelta(minutes=minute), duration=25.0)

    body = viewer_client.get(RANK).json()

    assert body["items"] == [
        {"app_name": "app_b", "total_duration": 500.0, "execution_count": 1, "trend_percent": 100.0},
        {"app_name": "app_a", "total_duration": 300.0, "execution_count": 3, "trend_percent": 50.0},
        {"app_name": "app_d", "total_duration": 50.0, "execution_count": 2, "trend_percent": -50.0},
    ]
    assert body["generated_at"]
    assert [i["app_name"] for i in viewer_client.get(RANK, {"limit": 2}).json()["items"]] == [
        "app_b",
        "app_a",
    ]


def test_rank_windows_are_seven_days_back_from_now(viewer_client, make_log):
    now = timezone.now()
    make_log(app_name="edge", start_time=now - timedelta(days=7) + timedelta(minutes=5), duration=10.0)
    make_log(app_name="edge", start_time=now - timedelta(days=7) - timedelta(minutes=5), duration=10.0)
    make_log(app_name="edge", start_time=now - timedelta(days=14) + timedelta(minutes=5), duration=10.0)
    make_log(app_name="edge", start_time=now - timedelta(days=14) - timedelta(minutes=5), duration=10.0)

    # current: 1 run; previous: the 2 runs between 14 and 7 days ago; the oldest is outside.
    assert viewer_client.get(RANK).json()["items"] == [
        {"app_name": "edge", "total_duration": 10.0, "execution_count": 1, "trend_percent": -50.0}
    ]


def test_rank_trend_is_zero_when_counts_are_equal_and_durations_may_be_missing(viewer_client, make_log):
    now = timezone.now()
    make_log_without_duration(make_log, app_name="steady", start_time=now - timedelta(days=1), duration=None)
    make_log_without_duration(make_log, app_name="steady", start_time=now - timedelta(days=8), duration=None)
    assert viewer_client.get(RANK).json()["items"] == [
        {"app_name": "steady", "total_duration": 0.0, "execution_count": 1, "trend_percent": 0.0}
    ]


def test_rank_is_empty_without_recent_runs(viewer_client):
    assert viewer_client.get(RANK).json()["items"] == []


@pytest.mark.parametrize("limit", [0, 51, "x", "-1"])
def test_bad_rank_limit_is_400(viewer_client, limit):
    response = viewer_client.get(RANK, {"limit": limit})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["message"].startswith("limit:")


@pytest.mark.parametrize("limit", [1, 50])
def test_rank_limit_bounds_are_allowed(viewer_client, limit):
    assert viewer_client.get(RANK, {"limit": limit}).status_code == 200


# --- who may read --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [STATS, PERFORMANCE, RANK])
def test_anonymous_callers_get_401(anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("url", [STATS, PERFORMANCE, RANK])
def test_users_without_view_permissions_get_403(django_user_model, url):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("nobody", password="pw-nobody-123"))
    response = client.get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("url", [STATS, PERFORMANCE, RANK])
def test_operators_and_session_users_may_read(operator_client, client, viewer_user, url):
    assert operator_client.get(url).status_code == 200
    client.force_login(viewer_user)
    assert client.get(url).status_code == 200
