"""Local-calendar buckets stay exact across DST changes and odd offsets, on every backend."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard import buckets, services
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db


def test_day_buckets_run_from_local_midnight_to_local_midnight_across_a_dst_change():
    tz = zoneinfo.ZoneInfo("America/New_York")
    ranges = buckets.bucket_ranges(date(2026, 3, 7), date(2026, 3, 9), buckets.DAY, tz)
    assert [
        (b.label, b.start.astimezone(UTC).hour, b.end.astimezone(UTC) - b.start.astimezone(UTC))
        for b in ranges
    ] == [
        ("2026-03-07", 5, timedelta(hours=24)),
        ("2026-03-08", 5, timedelta(hours=23)),  # clocks spring forward: a 23-hour day
        ("2026-03-09", 4, timedelta(hours=24)),
    ]
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:], strict=False))


def test_month_buckets_are_clipped_to_the_window():
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    ranges = buckets.bucket_ranges(date(2025, 12, 20), date(2026, 2, 3), buckets.MONTH, tz)
    assert [b.label for b in ranges] == ["2025-12", "2026-01", "2026-02"]
    assert ranges[0].start == datetime(2025, 12, 20, tzinfo=tz)
    assert ranges[1].start == datetime(2026, 1, 1, tzinfo=tz)
    assert ranges[-1].end == datetime(2026, 2, 4, tzinfo=tz)


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("America/New_York", datetime(2026, 3, 20, 12, tzinfo=UTC)),  # spring forward on 8 March
        ("Europe/London", datetime(2026, 11, 5, 12, tzinfo=UTC)),  # fall back on 25 October
        ("Australia/Lord_Howe", datetime(2026, 4, 20, 12, tzinfo=UTC)),  # a 30-minute DST shift
        ("Asia/Kathmandu", datetime(2026, 4, 20, 12, tzinfo=UTC)),  # +05:45
        ("America/St_Johns", datetime(2026, 11, 10, 12, tzinfo=UTC)),  # -03:30 / -02:30
        ("America/Santiago", datetime(2026, 9, 20, 12, tzinfo=UTC)),  # midnight skipped on 6 Sept
    ],
)
def test_daily_and_monthly_buckets_match_python_local_dates(zone, now):
    tz = zoneinfo.ZoneInfo(zone)
    first = now - timedelta(days=40)
    # A run every 37 minutes for 40 days: every local midnight is crossed at varied minutes.
    starts = [first + timedelta(minutes=37 * i) for i in range(40 * 24 * 60 // 37)]
    ExecutionLog.objects.bulk_create(
        ExecutionLog(app_name="a", shadow_bot_account="b", status="completed", start_time=s, duration=1.0)
        for s in starts
    )
    window = services.day_window(30, tz, now)
    expected = Counter(s.astimezone(tz).date().isoformat() for s in starts if window.start <= s < window.end)

    perf = services.performance(days=30, dimension="day", tz_name=zone, now=now)

    assert {b["date"]: b["totalExecutions"] for b in perf["dailyStats"]} == dict(expected)
    months = services.performance(days=30, dimension="month", tz_name=zone, now=now)
    expected_months = Counter()
    for day, count in expected.items():
        expected_months[day[:7]] += count
    assert {b["date"]: b["totalExecutions"] for b in months["dailyStats"]} == dict(expected_months)


def test_a_run_exactly_at_local_midnight_starts_the_new_day(make_log):
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 1, 21, 12, tzinfo=tz)
    make_log(start_time=datetime(2026, 1, 21, 0, 0, tzinfo=tz), status="failed", duration=4.0)
    make_log(
        start_time=datetime(2026, 1, 20, 23, 59, 59, 999999, tzinfo=tz), status="completed", duration=2.0
    )
    perf = services.performance(days=2, dimension="day", tz_name="Asia/Shanghai", now=now)
    assert perf["dailyStats"] == [
        {"date": "2026-01-20", "totalExecutions": 1, "completed": 1, "failed": 0, "avgDuration": 2.0},
        {"date": "2026-01-21", "totalExecutions": 1, "completed": 0, "failed": 1, "avgDuration": 4.0},
    ]


def test_performance_is_one_query_whatever_the_window(make_log, django_assert_num_queries):
    make_log()
    for days in (1, 90, 365):
        with django_assert_num_queries(1):
            services.performance(days=days, dimension="day", tz_name="Asia/Shanghai")
    with django_assert_num_queries(1):
        services.performance(days=365, dimension="month", tz_name="UTC")
