"""The dashboard's jobs card: how many jobs run and wait, and the job waiting longest."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import BUSY, Job, JobStatus
from pools.models import Pool

# Pools the card lists (busiest first); the admin's pool list has every one.
CARD_POOLS = 8


def card_context(job_stats: dict[str, Any]) -> dict[str, Any]:
    """From the page's stats (dashboard.services.job_stats: no query for the counts) plus one
    query for the job waiting longest."""
    by_status = job_stats["by_status"]
    now = timezone.now()
    longest = Job.objects.select_related("pool").filter(status=JobStatus.QUEUED).order_by("created_at", "pk").first()
    return {
        "running": sum(by_status[status] for status in BUSY),
        "queued": by_status[JobStatus.QUEUED],
        "longest": longest,
        "longest_waited": (now - longest.created_at).total_seconds() if longest else None,
        # a pool job still waiting for any robot waits on its pool, not on one robot
        "longest_pool": longest.pool.name if longest and longest.any_robot and longest.pool else None,
        "pools": pool_rows(now),
    }


def pool_rows(now) -> list[dict[str, Any]]:
    """Per pool (API.md §12): its robots, its jobs running, its jobs waiting for any of its robots
    and how long the oldest of them has waited (one query)."""
    jobs_of = Job.objects.filter(pool=OuterRef("pk")).order_by().values("pool")
    waiting = jobs_of.filter(status=JobStatus.QUEUED, any_robot=True)
    rows = (
        Pool.objects.annotate(
            robots=Count("accounts", distinct=True),
            running=Coalesce(Subquery(jobs_of.filter(status__in=BUSY).annotate(n=Count("pk")).values("n")), 0),
            queued=Coalesce(Subquery(waiting.annotate(n=Count("pk")).values("n")), 0),
            oldest=Subquery(waiting.annotate(first=Min("created_at")).values("first")),
        )
        .filter(Q(running__gt=0) | Q(queued__gt=0) | Q(robots__gt=0))
        .order_by("-queued", "-running", "name")[:CARD_POOLS]
    )
    return [
        {"pool": pool, "robots": pool.robots, "running": pool.running, "queued": pool.queued,
         "waited": (now - pool.oldest).total_seconds() if pool.oldest else None}
        for pool in rows
    ]
