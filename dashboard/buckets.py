"""Executions per calendar day or month in an IANA time zone, one grouped row per bucket.

Every bucket is a half-open range of instants, [first local midnight of the bucket, first local
midnight of the next one), computed in Python from the zone (so exact across DST and odd
offsets such as +05:45), clipped to the window.

- SQLite: Django's `TruncDate`/`TruncMonth` with `tzinfo` run a Python function per row there
  (≈1 s for a year at 1M logs). Instead one statement lists the bucket ranges and aggregates
  each range with a correlated sub-select that SQLite answers by seeking the `start_time`
  index, with no per-row date arithmetic and no sort: 3-8× faster, and exact by construction.
- Other backends (PostgreSQL): `TruncDate`/`TruncMonth` with `tzinfo` (`AT TIME ZONE`), grouped.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connections, router
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth

from executionlogs.limits import MAX_DURATION_SECONDS, clamped_duration
from executionlogs.models import ExecutionLog, ExecutionStatus

DAY = "day"
MONTH = "month"
LABEL_FORMATS = {DAY: "%Y-%m-%d", MONTH: "%Y-%m"}


@dataclass(frozen=True)
class Bucket:
    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BucketRow:
    label: str
    total: int
    completed: int
    failed: int
    duration_sum: float
    duration_count: int


def local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant of `day` in `tz` (where midnight is skipped, the moment clocks jump)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def _next_bucket_day(day: date, dimension: str) -> date:
    if dimension == DAY:
        return day + timedelta(days=1)
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def bucket_ranges(first_day: date, last_day: date, dimension: str, tz: zoneinfo.ZoneInfo) -> list[Bucket]:
    """The day or month buckets covering the local days first_day..last_day, ascending."""
    buckets = []
    day = first_day
    while day <= last_day:
        following = min(_next_bucket_day(day, dimension), last_day + timedelta(days=1))
        buckets.append(
            Bucket(
                label=day.strftime(LABEL_FORMATS[dimension]),
                start=local_midnight(day, tz),
                end=local_midnight(following, tz),
            )
        )
        day = following
    return buckets


def bucket_rows(buckets: list[Bucket], dimension: str, tz: zoneinfo.ZoneInfo) -> list[BucketRow]:
    """Counts and duration sums per bucket, ascending, only buckets with executions."""
    if not buckets:
        return []
    connection = connections[router.db_for_read(ExecutionLog)]
    if connection.vendor == "sqlite":
        rows = _sqlite_rows(connection, buckets)
    else:
        rows = _truncated_rows(buckets, dimension, tz)
    return [row for row in rows if row.total]


def _sqlite_rows(connection, buckets: list[Bucket]) -> list[BucketRow]:
    quote = connection.ops.quote_name
    table = quote(ExecutionLog._meta.db_table)
    status, duration, start = (
        quote(ExecutionLog._meta.get_field(name).column) for name in ("status", "duration", "start_time")
    )
    stamp = connection.ops.adapt_datetimefield_value  # the stored text form, so ranges compare as Django's do
    # Two parameters per bucket (a year of days stays under SQLite's oldest 999-variable limit);
    # labels are matched back by range start.
    values = ", ".join(["(%s, %s)"] * len(buckets))
    params: list = []
    labels = {}
    for bucket in buckets:
        start_stamp = stamp(bucket.start)
        labels[start_stamp] = bucket.label
        params += [start_stamp, stamp(bucket.end)]
    # Durations clamped into [0, 30 days], as executionlogs.limits.clamped_duration does.
    params += [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, MAX_DURATION_SECONDS, MAX_DURATION_SECONDS]
    sql = (
        f"WITH bucket(range_start, range_end) AS (VALUES {values}) "
        f"SELECT range_start, (SELECT json_array(COUNT({status}), "
        f"COUNT({status}) FILTER (WHERE {status} = %s), COUNT({status}) FILTER (WHERE {status} = %s), "
        f"TOTAL(CASE WHEN {duration} > %s THEN %s WHEN {duration} < 0 THEN 0.0 ELSE {duration} END), "
        f"COUNT({duration})) "
        f"FROM {table} WHERE {start} >= bucket.range_start AND {start} < bucket.range_end) "
        f"FROM bucket ORDER BY range_start"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = []
    for range_start, packed in fetched:
        total, completed, failed, duration_sum, duration_count = json.loads(packed)
        rows.append(
            BucketRow(labels[range_start], total, completed, failed, float(duration_sum), duration_count)
        )
    return rows


def _truncated_rows(buckets: list[Bucket], dimension: str, tz: zoneinfo.ZoneInfo) -> list[BucketRow]:
    trunc = TruncDate if dimension == DAY else TruncMonth
    grouped = (
        ExecutionLog.objects.filter(start_time__gte=buckets[0].start, start_time__lt=buckets[-1].end)
        .annotate(bucket=trunc("start_time", tzinfo=tz))
        .values("bucket")
        .annotate(
            total=Count("status"),
            completed=Count("status", filter=Q(status=ExecutionStatus.COMPLETED)),
            failed=Count("status", filter=Q(status=ExecutionStatus.FAILED)),
            duration_sum=Sum(clamped_duration()),
            duration_count=Count("duration"),
        )
        .order_by("bucket")
    )
    return [
        BucketRow(
            label=row["bucket"].strftime(LABEL_FORMATS[dimension]),
            total=row["total"],
            completed=row["completed"],
            failed=row["failed"],
            duration_sum=float(row["duration_sum"] or 0.0),
            duration_count=row["duration_count"],
        )
        for row in grouped
    ]
