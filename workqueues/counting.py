"""Counts derived from the items (API.md §13 `counts`, `oldest_new_at`; the dashboard card)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q

from workqueues.models import ItemStatus, QueueItem


def empty_counts() -> dict[str, int]:
    return {status: 0 for status in ItemStatus.values}


def counts_of(queue_ids: Iterable) -> dict[Any, dict[str, int]]:
    """{queue id: {status: count, every status present}} in one grouped query."""
    ids = list(queue_ids)
    found: dict[Any, dict[str, int]] = {pk: empty_counts() for pk in ids}
    rows = QueueItem.objects.filter(queue_id__in=ids).values("queue_id", "status").annotate(n=Count("pk")).order_by()
    for row in rows:
        found[row["queue_id"]][row["status"]] = row["n"]
    return found


def ready_filter(now: datetime) -> Q:
    """Items a robot may take now: new, and not deferred past `now`."""
    return Q(status=ItemStatus.NEW) & (Q(defer_until__isnull=True) | Q(defer_until__lte=now))


def oldest_new_of(queue_ids: Iterable) -> dict[Any, datetime | None]:
    rows = (
        QueueItem.objects.filter(queue_id__in=list(queue_ids), status=ItemStatus.NEW)
        .values("queue_id").annotate(oldest=Min("created_at")).order_by()
    )
    return {row["queue_id"]: row["oldest"] for row in rows}


def oldest_ready_at(queue_id, now: datetime) -> datetime | None:
    """When the item waiting longest among those ready now was added (the SLA's measure)."""
    return (
        QueueItem.objects.filter(ready_filter(now), queue_id=queue_id)
        .order_by("created_at").values_list("created_at", flat=True).first()
    )


def ready_count(queue_id, now: datetime) -> int:
    return QueueItem.objects.filter(ready_filter(now), queue_id=queue_id).count()


def finished_since(queue_ids: Iterable, since: datetime) -> dict[Any, dict[str, int]]:
    """Per queue: items that ended successful / failed (for good or retried) since `since`."""
    rows = (
        QueueItem.objects.filter(queue_id__in=list(queue_ids), finished_at__gte=since)
        .values("queue_id")
        .annotate(
            successful=Count("pk", filter=Q(status=ItemStatus.SUCCESSFUL)),
            failed=Count("pk", filter=Q(status__in=[ItemStatus.FAILED, ItemStatus.ABANDONED])),
        )
        .order_by()
    )
    return {row["queue_id"]: {"successful": row["successful"], "failed": row["failed"]} for row in rows}
