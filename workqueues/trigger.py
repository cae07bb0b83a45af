"""Queue triggers (API.md §13): a queue with a task and `trigger_min_items` keeps up to
`trigger_max_jobs` jobs of that task going while at least `trigger_min_items` items are ready,
never more jobs than ready items, none once the queue is empty. Jobs are started through the
jobs app's start workflow (`jobs.services.start_job`, source `queue`), queued for the dispatcher.

Each queue is evaluated by one worker at a time: a pass claims it with a conditional UPDATE of
`trigger_checked_at`, so several workers never start the same job twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q

from jobs.models import ACTIVE, Job, JobSource
from jobs.services import start_job
from rpa_workbench.errors import ApiError
from workqueues import counting
from workqueues.models import WorkQueue

logger = logging.getLogger(__name__)

# A queue is evaluated at most this often, whichever worker does it.
CLAIM_INTERVAL = timedelta(milliseconds=500)


def jobs_wanted(*, ready: int, active: int, min_items: int, max_jobs: int) -> int:
    """How many jobs to start now: up to max_jobs running while ≥ min_items are ready, never
    more jobs than ready items."""
    if ready < min_items:
        return 0
    return max(min(max_jobs, ready) - active, 0)


def _claim(queue: WorkQueue, now: datetime) -> bool:
    last = queue.trigger_checked_at
    stale = Q(trigger_checked_at__isnull=True) if last is None else Q(trigger_checked_at=last)
    if last is not None and last > now - CLAIM_INTERVAL and last <= now:
        return False
    return bool(WorkQueue.objects.filter(stale, pk=queue.pk).update(trigger_checked_at=now))


def run(now: datetime) -> list[str]:
    """One pass over every triggered queue → the ids of the jobs started."""
    started: list[str] = []
    queues = WorkQueue.objects.select_related("task__account").filter(task__isnull=False, trigger_min_items__isnull=False)
    for queue in queues:
        if not _claim(queue, now):
            continue
        ready = counting.ready_count(queue.pk, now)
        active = Job.objects.filter(task_id=queue.task_id, status__in=ACTIVE).count()
        for _ in range(jobs_wanted(ready=ready, active=active, min_items=queue.trigger_min_items,
                                   max_jobs=queue.trigger_max_jobs)):
            try:
                job = start_job(task=queue.task, source=JobSource.QUEUE, inline=False).job
            except ApiError as exc:  # busy (409), backend not configured (503)…: next pass
                logger.info("queue %s: trigger could not start %s: %s", queue.name, queue.task.app_name, exc.detail)
                break
            started.append(str(job.pk))
    return started
