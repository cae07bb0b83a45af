"""`queue_updated` (API.md §13): at most one event a second per queue, coalesced, never dropped.

A change marks its queue after it committed (`mark_changed`: one conditional UPDATE, a no-op
while the queue is already marked); the worker (`publish_due`) claims marked queues whose last
event is at least a second old with a conditional UPDATE (clear the mark, stamp the time) and
then publishes the counts as they are. The mark is set after the change's commit and cleared
before the counts are read, so the last state of a burst always goes out: either the worker's
read sees the change, or the change's mark is still there for the next pass. Several workers
are safe: each queue's event is claimed by one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from rpa_workbench import events
from workqueues import counting
from workqueues.models import WorkQueue

logger = logging.getLogger(__name__)

QUEUE_UPDATED = "queue_updated"
MIN_INTERVAL = timedelta(seconds=1)


def _mark(queue_id) -> None:
    WorkQueue.objects.filter(pk=queue_id, events_pending=False).update(events_pending=True)


def mark_changed(queue_id) -> None:
    """Call inside (or outside) the change's transaction: the mark is written after it commits."""
    transaction.on_commit(lambda: _mark(queue_id), robust=True)


def queue_updated_payload(queue: WorkQueue, counts: dict[str, int]) -> dict:
    return events.payload(QUEUE_UPDATED, {"queue_id": str(queue.pk), "name": queue.name, "counts": counts})


def publish_due(now: datetime) -> list[str]:
    """Publish `queue_updated` for every marked queue whose last event is a second old or more."""
    published = []
    due = WorkQueue.objects.filter(events_pending=True).values_list("pk", "events_published_at")
    for pk, last in due:
        if last is not None and last > now - MIN_INTERVAL:
            continue
        claimed = WorkQueue.objects.filter(pk=pk, events_pending=True, events_published_at=last).update(
            events_pending=False, events_published_at=now
        )
        if not claimed:
            continue  # another worker took it
        queue = WorkQueue.objects.filter(pk=pk).first()
        if queue is None:
            continue
        with transaction.atomic():
            events.publish(QUEUE_UPDATED, queue_updated_payload(queue, counting.counts_of([pk])[pk]), None)
        published.append(str(pk))
    return published
