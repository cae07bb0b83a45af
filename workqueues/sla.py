"""`queue_sla_breached` (API.md §13): the oldest ready item has waited longer than the queue's
`sla_minutes`. Raised once per breach: the breach is claimed by a conditional UPDATE of the
queue's `sla_breached_at` (NULL → now) in the alert's transaction, and cleared (→ NULL) once the
oldest ready item is back within the SLA, so the next breach alerts again."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from alerts.models import AlertEvent
from alerts.services import raise_alert
from workqueues import counting
from workqueues.models import WorkQueue


def waited_minutes(oldest: datetime, now: datetime) -> int:
    return int((now - oldest).total_seconds() // 60)


def check(now: datetime) -> list[str]:
    """Raise the alert for each queue that just breached; clear the breach of those recovered."""
    breached = []
    for queue in WorkQueue.objects.select_related("task__account").exclude(sla_minutes=None):
        oldest = counting.oldest_ready_at(queue.pk, now)
        late = oldest is not None and oldest < now - timedelta(minutes=queue.sla_minutes)
        if not late:
            if queue.sla_breached_at is not None:
                WorkQueue.objects.filter(pk=queue.pk).exclude(sla_breached_at=None).update(sla_breached_at=None)
            continue
        with transaction.atomic():
            if not WorkQueue.objects.filter(pk=queue.pk, sla_breached_at=None).update(sla_breached_at=now):
                continue  # alerted already for this breach (here or by another worker)
            raise_alert(
                event=AlertEvent.QUEUE_SLA_BREACHED,
                task=queue.task,
                now=now,
                details={
                    "queue": queue.name, "queue_id": str(queue.pk), "sla_minutes": queue.sla_minutes,
                    "reason": f"oldest ready item waited {waited_minutes(oldest, now)} min > SLA {queue.sla_minutes} min",
                },
            )
        breached.append(str(queue.pk))
    return breached
