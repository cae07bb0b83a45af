"""Local-calendar buckets stay exact across DST changes and odd offsets (SQLite's native path)."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import services
from dashboard.zones import offset_segments
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db


def test_new_york_switches_to_summer_time_at_seven_utc_on_march_8_2026():
    tz = zoneinfo.ZoneInfo("America/New_York")
    segments = offset_segments(tz, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))
    assert segments == [(datetime(2026, 3, 8, 7, tzinfo=UTC), -300), (None, -240)]


def test_a_zone_without_transitions_has_one_segment():
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert offset_segments(tz, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == [
        (None, 480)
    ]


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("America/New_York", datetime(2026, 3, 20, 12, tzinfo=UTC)),  # spring forward on 8 March
        ("Europe/London", datetime(2026, 11, 5, 12, tzinfo=UTC)),  # fall back on 25 October
        ("Australia/Lord_Howe", datetime(2026, 4, 20, 12, tzinfo=UTC)),  # a 30-minute DST shift
        ("Asia/Kathmandu", datetime(2026, 4, 20, 12, tzinfo=UTC)),  # +05:45
        ("America/St_Johns", datetime(2026, 11, 10, 12, tzinfo=UTC)),  # -03:30 / -02:30
    ],
)
def test_daily_buckets_match_python_local_dates(zone, now):
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
