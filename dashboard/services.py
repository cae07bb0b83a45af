"""Dashboard figures (API.md §4), each from grouped SQL — never by loading log rows into Python.

The API views and the server-rendered page both call these functions, so the page shows exactly
what the API answers.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, AccountStatus
from dashboard import buckets
from executionlogs.limits import clamped_duration
from executionlogs.models import ExecutionLog, ExecutionStatus
from tasks.models import Task, TaskStatus

DAY = buckets.DAY
MONTH = buckets.MONTH
DIMENSIONS = (DAY, MONTH)
DEFAULT_TIMEZONE = "Asia/Shanghai"
RANK_WINDOW = timedelta(days=7)


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """IANA names we accept: the tzdata set, which both Python and PostgreSQL understand."""
    return frozenset(zoneinfo.available_timezones())


def resolve_timezone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called `name`, or None when it is not a known IANA zone."""
    if name not in known_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


def _counts_by(field: str, values: list[str]) -> dict[str, Any]:
    """Aggregate kwargs: one conditional COUNT per status plus the total.

    Counting the `status` column itself (not the primary key) lets SQLite answer from the
    status index alone, without touching the table.
    """
    counts: dict[str, Any] = {"total": Count(field)}
    for value in values:
        counts[value] = Count(field, filter=Q(**{field: value}))
    return counts


def _by_status(row: dict[str, int], values: list[str]) -> dict[str, int]:
    return {value: row[value] or 0 for value in values}


def percentage(part: int, whole: int) -> float:
    return round(part * 100 / whole, 2) if whole else 0.0


def dashboard_stats() -> dict[str, Any]:
    """`stored_stats`, then the work queues' figures and the moment (API.md §4, §13)."""
    return {**stored_stats(), "queues": queue_stats(), "generated_at": timezone.now()}


def stored_stats() -> dict[str, Any]:
    """Accounts, tasks, executions and jobs by status: aggregate queries whatever the volume,
    whose figures change only with an event (the API caches them: rpa_workbench/list_cache.py).
    The work queues' figures are not among them: items change without an event each
    (workqueues/changes.py coalesces theirs) and "waited" depends on the moment."""
    account_statuses = list(AccountStatus.values)
    task_statuses = list(TaskStatus.values)
    log_statuses = list(ExecutionStatus.values)

    accounts = Account.objects.aggregate(**_counts_by("status", account_statuses))
    tasks = Task.objects.aggregate(**_counts_by("status", task_statuses))
    # The big table, in COUNT(*)s: the whole table, then each status but `completed` (today
    # only `failed`, the rarer one); completed is what remains. SQLite counts a whole table from
    # its b-tree without decoding rows (6 ms at 1M logs) and a rare status from the status index
    # (2 ms), where grouping or conditional counts read every index entry (60-110 ms).
    # (A run landing between the counts shows up on the next refresh.)
    total = ExecutionLog.objects.count()
    others = {
        value: ExecutionLog.objects.filter(status=value).count()
        for value in log_statuses
        if value != ExecutionStatus.COMPLETED
    }
    logs = {"total": total, ExecutionStatus.COMPLETED: max(total - sum(others.values()), 0), **others}
    completed = logs[ExecutionStatus.COMPLETED]
    failed = logs[ExecutionStatus.FAILED]

    return {
        "accounts": {"total": accounts["total"], "by_status": _by_status(accounts, account_statuses)},
        "tasks": {
            "total": tasks["total"],
            "by_status": _by_status(tasks, task_statuses),
            "completed_count": completed,
            "failed_count": failed,
        },
        "execution_logs": {
            "total": logs["total"],
            "by_status": _by_status(logs, log_statuses),
            "success_rate": percentage(completed, logs["total"]),
        },
        "jobs": job_stats(),
    }


def queue_stats() -> list[dict[str, Any]]:
    """API.md §13: per work queue, ready, in progress, done today, success rate, oldest waiting."""
    from workqueues.stats import queue_stats as per_queue

    return per_queue()


def job_stats() -> dict[str, Any]:
    """API.md §9.2: jobs by status (every status present) and when the oldest queued job was made."""
    from jobs.models import Job, JobStatus

    statuses = list(JobStatus.values)
    counts = Job.objects.aggregate(
        **_counts_by("status", statuses), oldest_queued_at=Min("created_at", filter=Q(status=JobStatus.QUEUED))
    )
    return {"by_status": _by_status(counts, statuses), "oldest_queued_at": counts["oldest_queued_at"]}


@dataclass(frozen=True)
class Window:
    """The last `days` calendar days in `tz`, today included: [start, end) as aware datetimes."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime


def day_window(days: int, tz: zoneinfo.ZoneInfo, now: datetime | None = None) -> Window:
    today = timezone.localtime(now or timezone.now(), tz).date()
    first_day = today - timedelta(days=days - 1)
    start = buckets.local_midnight(first_day, tz)
    end = buckets.local_midnight(today + timedelta(days=1), tz)
    return Window(first_day=first_day, last_day=today, start=start, end=end)


def _avg(total: float | None, count: int) -> float:
    return round(total / count, 1) if count and total is not None else 0.0


def performance(*, days: int, dimension: str, tz_name: str, now: datetime | None = None) -> dict[str, Any]:
    """Executions per calendar day (or month) in `tz_name`, over the last `days` days.

    The window is whole local days: today and the `days - 1` days before it, so a 7-day chart
    has at most 7 buckets. Only buckets with executions are listed (as the existing clients
    expect); `daily_series` fills the gaps for charts. One grouped query (see `buckets`).
    """
    tz = zoneinfo.ZoneInfo(tz_name)
    window = day_window(days, tz, now)
    ranges = buckets.bucket_ranges(window.first_day, window.last_day, dimension, tz)
    items = []
    total = completed = duration_count = 0
    duration_sum = 0.0
    for row in buckets.bucket_rows(ranges, dimension, tz):
        items.append(
            {
                "date": row.label,
                "totalExecutions": row.total,
                "completed": row.completed,
                "failed": row.failed,
                "avgDuration": _avg(row.duration_sum, row.duration_count),
            }
        )
        total += row.total
        completed += row.completed
        duration_count += row.duration_count
        duration_sum += row.duration_sum
    return {
        "period": f"last_{days}_days",
        "dailyStats": items,
        "totalExecutions": total,
        "completionRate": round(completed / total, 2) if total else 0.0,
        "avgDuration": _avg(duration_sum, duration_count),
        # For the page: the window in calendar days, to draw empty days too.
        "window": window,
    }


def daily_series(perf: dict[str, Any]) -> list[dict[str, Any]]:
    """Every day of a `dimension=day` performance window, zeros where nothing ran."""
    by_date = {item["date"]: item for item in perf["dailyStats"]}
    window: Window = perf["window"]
    series = []
    day = window.first_day
    while day <= window.last_day:
        label = day.isoformat()
        series.append(
            by_date.get(
                label, {"date": label, "totalExecutions": 0, "completed": 0, "failed": 0, "avgDuration": 0.0}
            )
        )
        day += timedelta(days=1)
    return series


def trend_percent(current: int, previous: int) -> float:
    if previous == 0:
        return 100.0 if current else 0.0
    return round((current - previous) * 100 / previous, 1)


def execution_rank(*, limit: int, now: datetime | None = None, with_previous: bool = False) -> dict[str, Any]:
    """Apps by total run time over the last 7 days, with the change in run count against the
    7 days before — one grouped query over the 14-day window (the start_time index).
    `with_previous` adds each app's `previous_count` (the page says "new" when it is 0; the
    API's items keep their documented fields)."""
    now = now or timezone.now()
    current_start = now - RANK_WINDOW
    previous_start = current_start - RANK_WINDOW
    in_current = Q(start_time__gte=current_start)
    rows = (
        ExecutionLog.objects.filter(start_time__gte=previous_start, start_time__lte=now)
        .values("app_name")
        .annotate(
            total_duration=Coalesce(Sum(clamped_duration(), filter=in_current), 0.0),
            execution_count=Count("app_name", filter=in_current),
            previous_count=Count("app_name", filter=Q(start_time__lt=current_start)),
        )
        .filter(execution_count__gt=0)
        .order_by(F("total_duration").desc(), F("execution_count").desc(), "app_name")[:limit]
    )
    items = [
        {
            "app_name": row["app_name"],
            "total_duration": round(float(row["total_duration"]), 1),
            "execution_count": row["execution_count"],
            "trend_percent": trend_percent(row["execution_count"], row["previous_count"]),
            **({"previous_count": row["previous_count"]} if with_previous else {}),
        }
        for row in rows
    ]
    return {"items": items, "generated_at": now}


def latest_executions(limit: int = 10) -> list[ExecutionLog]:
    """The most recent runs (by start time), only the columns the page shows."""
    return list(
        ExecutionLog.objects.only(
            "id", "app_name", "shadow_bot_account", "host_ip", "status", "start_time", "duration"
        ).order_by("-start_time")[:limit]
    )


def running_robots(limit: int = 50) -> list[Account]:
    """Accounts currently running, each with the name of its running task (if any)."""
    return list(
        Account.objects.filter(status=AccountStatus.RUNNING)
        .annotate(running_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.RUNNING)))
        .only("id", "shadow_bot_account", "host_ip", "port", "recent_app", "last_heartbeat_at", "status")
        .order_by("shadow_bot_account", "host_ip")[:limit]
    )
