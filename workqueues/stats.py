"""The dashboard's work queues card and `stats.queues` (API.md §13): per queue, the items ready
and in progress, those done today, today's success rate and the oldest waiting item."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from workqueues import counting
from workqueues.models import ItemStatus, WorkQueue

MAX_QUEUES = 50


def today_start(now: datetime) -> datetime:
    local = now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def queue_stats(now: datetime | None = None) -> list[dict[str, Any]]:
    """Three grouped queries whatever the number of queues and items."""
    now = now or timezone.now()
    ready_in_items = Q(items__status=ItemStatus.NEW) & (Q(items__defer_until__isnull=True) | Q(items__defer_until__lte=now))
    queues = list(
        WorkQueue.objects.order_by("name").annotate(
            n_ready=Count("items", filter=ready_in_items),
            n_in_progress=Count("items", filter=Q(items__status=ItemStatus.IN_PROGRESS)),
            oldest_ready_at=Min("items__created_at", filter=ready_in_items),
        )[:MAX_QUEUES]
    )
    done = counting.finished_since([queue.pk for queue in queues], today_start(now))
    rows = []
    for queue in queues:
        today = done.get(queue.pk, {"successful": 0, "failed": 0})
        finished = today["successful"] + today["failed"]
        waited = (now - queue.oldest_ready_at).total_seconds() if queue.oldest_ready_at else None
        rows.append({
            "queue_id": str(queue.pk),
            "name": queue.name,
            "ready": queue.n_ready,
            "in_progress": queue.n_in_progress,
            "done_today": finished,
            "successful_today": today["successful"],
            "failed_today": today["failed"],
            "success_rate": round(today["successful"] * 100 / finished, 2) if finished else None,
            "oldest_ready_at": queue.oldest_ready_at,
            "oldest_waited_seconds": waited,
            "sla_minutes": queue.sla_minutes,
            "sla_breached": bool(queue.sla_minutes and waited is not None and waited > queue.sla_minutes * 60),
        })
    return rows
