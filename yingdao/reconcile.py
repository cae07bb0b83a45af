"""Reconciliation: Yingdao jobs whose callback is overdue are asked about with job/query.

The cure for "stuck dispatched/running": a `yingdao` job in dispatched, running or stopping not
moved for RPA_YINGDAO_RECONCILE_SECONDS is queried (paced by the shared limiter, at most
`BATCH` per pass) and moved on if Yingdao knows more, through the same `updates.apply_report`
the callbacks use. A `dispatched` job whose job/start answer was lost (sent, no jobUuid stored) is
asked again with its idempotentUuid, which returns the job Yingdao made, never a second one; a job
whose START is still in the outbox, or that is being stopped, is never sent a job/start here.
Run by the Yingdao loop (yingdao/loop.py) once per period, claimed across processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import BUSY, Job, JobStatus
from tasks.models import ControlAction, ControlOutcome, ControlRequest
from yingdao import claims, updates
from yingdao.client import YingdaoError

logger = logging.getLogger(__name__)

LOOP_NAME = "yingdao.reconcile"
BATCH = 200


@dataclass
class ReconcileSummary:
    checked: int = 0
    moved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def overdue(now: datetime):
    cutoff = now - timedelta(seconds=settings.RPA_YINGDAO_RECONCILE_SECONDS)
    return (
        Job.objects.select_related("task", "account")
        .filter(backend=updates.BACKEND, status__in=BUSY, updated_at__lte=cutoff)
        .order_by("updated_at")
    )


def start_was_sent(job: Job) -> bool:
    """Whether asking job/start again (same idempotentUuid) can only learn the jobUuid: the job is
    still `dispatched` (not being stopped: a job/start then could start what is being stopped) and
    its START left the outbox (sent, or failed after it may have reached Yingdao)."""
    if job.status != JobStatus.DISPATCHED:
        return False
    return ControlRequest.objects.filter(
        job_id=job.pk, action=ControlAction.START, outcome__in=[ControlOutcome.SENT, ControlOutcome.FAILED]
    ).exists()


def reconcile(*, now: datetime | None = None, limit: int = BATCH) -> ReconcileSummary:
    from yingdao.backend import backend

    now = now or timezone.now()
    summary = ReconcileSummary()
    for job in overdue(now)[:limit]:
        summary.checked += 1
        before = job.status
        try:
            if not job.external_id:
                if not start_was_sent(job):
                    continue  # its START is still in the outbox (or never left): asking would start it
                outcome = backend.start(job)  # idempotent: learns the jobUuid, starts nothing new
                if not outcome.ok:
                    summary.errors.append(f"{job.pk}: {outcome.error or outcome.message}")
                    continue
                updates.adopt(job, outcome.external_id)
                job = updates.find_job(outcome.external_id) or job
            report = backend.query(job)
        except YingdaoError as exc:
            summary.errors.append(f"{job.pk}: {exc.message}")
            logger.warning("yingdao reconcile: job/query of job %s failed: %s", job.pk, exc.message)
            continue
        applied = updates.apply_report(job, report, details=False)  # the query answer has them
        if applied.status != before:
            summary.moved.append(str(job.pk))
            logger.info("yingdao reconcile: job %s %s → %s (%s)", job.pk, before, applied.status, applied.outcome)
    updates.prune_pending(now)
    return summary


def run_due(*, now: datetime | None = None) -> ReconcileSummary | None:
    now = now or timezone.now()
    if not Job.objects.filter(backend=updates.BACKEND, status__in=BUSY).exists():
        return None
    if not claims.claim(LOOP_NAME, every=settings.RPA_YINGDAO_RECONCILE_SECONDS / 2, now=now):
        return None
    return reconcile(now=now)
