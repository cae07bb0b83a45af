"""The operators' dashboard page: a plain Django view over the same services as the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts import presence
from alerts import dashboard as alerts_dashboard
from dashboard import charts, services
from jobs import dashboard as jobs_dashboard
from rpa_workbench.permissions import is_admin

PAGE_PERMS = ("executionlogs.view_executionlog", "accounts.view_account", "tasks.view_task")
TREND_DAYS = (7, 30, 90)
DEFAULT_TREND_DAYS = 7


def trend_days(request: HttpRequest) -> int:
    """7, 30 or 90 from `?days=`; anything else falls back to 7 (a page, not an API: no 400)."""
    try:
        days = int(request.GET.get("days", DEFAULT_TREND_DAYS))
    except ValueError:
        return DEFAULT_TREND_DAYS
    return days if days in TREND_DAYS else DEFAULT_TREND_DAYS


def can_view(user) -> bool:
    return is_admin(user) or user.has_perms(PAGE_PERMS)


def dashboard_context(days: int) -> dict[str, Any]:
    stats = services.dashboard_stats()
    perf = services.performance(days=days, dimension=services.DAY, tz_name=settings.TIME_ZONE)
    series = services.daily_series(perf)
    rank = services.execution_rank(limit=10, with_previous=True)
    logs = stats["execution_logs"]
    return {
        "days": days,
        "trend_choices": TREND_DAYS,
        "timezone_name": settings.TIME_ZONE,
        "stats": stats,
        "accounts": stats["accounts"],
        "tasks": stats["tasks"],
        "logs": logs,
        "success_ring": charts.donut(logs["success_rate"]),
        "perf": perf,
        "completion_percent": round(perf["completionRate"] * 100),
        "chart": charts.trend_chart(series),
        "rank": charts.share_bars(rank["items"], "total_duration"),
        "latest": services.latest_executions(10),
        "running": services.running_robots(),
        "presence": presence.presence_counts(),
        "generated_at": stats["generated_at"],
        "alerts": alerts_dashboard.card_context(),
        "jobs_card": jobs_dashboard.card_context(stats["jobs"]),
        "queues_card": stats["queues"],
    }


@never_cache
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The whole page; anonymous visitors are sent to the login page first."""
    if not can_view(request.user):
        raise PermissionDenied
    return render(request, "dashboard/index.html", dashboard_context(trend_days(request)))


@never_cache
def dashboard_content(request: HttpRequest) -> HttpResponse:
    """Only the page's content, which the page's script swaps in after a live event.

    An expired session answers 401 (not a login redirect) so the script can reload the page
    and let the browser land on the login form.
    """
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    if not can_view(request.user):
        raise PermissionDenied
    return render(request, "dashboard/_content.html", dashboard_context(trend_days(request)))
