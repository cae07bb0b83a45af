"""The dashboard's jobs card: how many jobs run and wait, and the job waiting longest."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from jobs.models import BUSY, Job, JobStatus


def card_context(job_stats: dict[str, Any]) -> dict[str, Any]:
    """From the page's stats (dashboard.services.job_stats: no query for the counts) plus one
    query for the job waiting longest."""
    by_status = job_stats["by_status"]
    longest = Job.objects.filter(status=JobStatus.QUEUED).order_by("created_at", "pk").first()
    return {
        "running": sum(by_status[status] for status in BUSY),
        "queued": by_status[JobStatus.QUEUED],
        "longest": longest,
        "longest_waited": (timezone.now() - longest.created_at).total_seconds() if longest else None,
    }
