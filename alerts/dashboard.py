"""The dashboard's alerts card: the latest alerts and the channels failing to deliver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Channel, DeliveryStatus

LATEST = 8
FAILING_WINDOW = timedelta(hours=24)


def failing_channels(now=None) -> list[dict[str, Any]]:
    """Channels with a delivery that failed for good, or is being retried, in the last 24 hours."""
    since = (now or timezone.now()) - FAILING_WINDOW
    trouble = Q(deliveries__created_at__gte=since) & (
        Q(deliveries__status=DeliveryStatus.FAILED) | Q(deliveries__status=DeliveryStatus.PENDING, deliveries__attempts__gt=0)
    )
    channels = (
        Channel.objects.annotate(troubled=Count("deliveries", filter=trouble), last_trouble=Max("deliveries__created_at", filter=trouble))
        .filter(troubled__gt=0)
        .order_by("-last_trouble")
    )
    found = []
    for channel in channels[:10]:
        latest = channel.deliveries.filter(created_at=channel.last_trouble).values("last_error", "status").first() or {}
        found.append({"channel": channel, "count": channel.troubled, "last_error": latest.get("last_error", ""),
                      "status": latest.get("status", "")})
    return found


def card_context() -> dict[str, Any]:
    latest = list(Alert.objects.select_related("account", "task").order_by("-occurred_at")[:LATEST])
    labels = dict(AlertEvent.choices)
    for alert in latest:
        alert.event_label = labels.get(alert.event, alert.event)  # lazy: the card shows it in both languages
    return {"latest_alerts": latest, "failing_channels": failing_channels()}
