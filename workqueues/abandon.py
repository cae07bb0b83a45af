"""Abandoned items (API.md §13): in progress longer than their queue's `abandon_after_minutes`,
or their job ended without a result for them. Each is a compare-and-set (workqueues.items.abandon),
so a job end and a sweep, or two sweeps, abandon (and retry) an item once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from jobs.models import FINAL
from workqueues import items
from workqueues.models import ItemStatus, QueueItem, WorkQueue

logger = logging.getLogger(__name__)

JOB_ENDED = "its job ended without a result for it"
SWEEP_BATCH = 500


def _in_progress():
    return QueueItem.objects.select_related("queue__task__account", "account", "job").filter(status=ItemStatus.IN_PROGRESS)


def job_ended(transition) -> None:
    """A `jobs.transitions.HOOKS` hook, inside the job's transaction: when the job ends, the items
    it still holds are abandoned (and retried) in that same transaction."""
    if transition.new not in FINAL or transition.old in (transition.new, None):
        return  # None: a job made already ended (a robot's report of its own run) never held an item
    # Almost every job holds no item: ask with the cheapest query there is (this runs in every
    # robot report's transaction), and load the items with their queue only when there are some.
    held = list(QueueItem.objects.filter(job_id=transition.job.pk, status=ItemStatus.IN_PROGRESS).values_list("pk", flat=True))
    if not held:
        return
    now = transition.job.updated_at or timezone.now()  # the transition's own time
    for item in _in_progress().filter(pk__in=held):
        items.abandon(item, now=now, message=JOB_ENDED)


def sweep(now: datetime) -> list[str]:
    """Abandon items in progress too long, and items whose job ended without our hook seeing it."""
    done: list[str] = []
    for queue_id, minutes in WorkQueue.objects.values_list("pk", "abandon_after_minutes"):
        cutoff = now - timedelta(minutes=minutes)
        overdue = list(_in_progress().filter(queue_id=queue_id, started_at__lt=cutoff)[:SWEEP_BATCH])
        for item in overdue:
            with transaction.atomic():
                message = f"in progress longer than {minutes} minutes"
                if items.abandon(item, now=now, message=message):
                    done.append(str(item.pk))
    for item in _in_progress().filter(job__status__in=FINAL)[:SWEEP_BATCH]:
        with transaction.atomic():
            if items.abandon(item, now=now, message=JOB_ENDED):
                done.append(str(item.pk))
    return done
