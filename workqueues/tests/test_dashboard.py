"""The dashboard's queues card and `stats.queues` (API.md §13): ready, in progress, done today,
today's success rate and the oldest waiting item per queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from workqueues import items
from workqueues.models import ItemStatus, QueueItem
from workqueues.stats import queue_stats

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_queue(make_queue, make_account):
    queue, robot = make_queue("Orders", sla_minutes=30), make_account()
    now = timezone.now()
    items.add_items(queue=queue, specs=[{"priority": "normal", "reference": "old"}], now=now - timedelta(hours=1))
    items.add_items(queue=queue, specs=[{"priority": "normal"} for _ in range(5)], now=now)
    items.add_items(queue=queue, specs=[{"priority": "normal", "defer_until": now + timedelta(days=1)}], now=now)
    for status in ("successful", "successful", "successful", "failed"):
        item = items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account)
        items.record_result(item_id=item.pk, status=status, error_type="business" if status == "failed" else None)
    items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account)
    return queue


def test_queue_stats_per_queue(busy_queue):
    [row] = queue_stats()
    assert (row["name"], row["ready"], row["in_progress"], row["done_today"]) == ("Orders", 1, 1, 4)
    assert row["success_rate"] == 75.0
    assert QueueItem.objects.filter(status=ItemStatus.NEW).count() == 2  # one deferred: not ready
    assert row["oldest_ready_at"] is not None and row["sla_breached"] is False


def test_stats_endpoint_adds_queues(viewer_client, busy_queue):
    body = viewer_client.get("/api/v1/dashboard/stats").json()
    assert body["queues"][0]["name"] == "Orders" and body["queues"][0]["done_today"] == 4


def test_the_dashboard_shows_the_queues_card(root, busy_queue):
    page = root.get("/dashboard/").content.decode()
    assert 'data-card="queues"' in page and "Orders" in page and "75.0%" in page
    assert "今日完成" in page


def test_the_card_marks_a_queue_past_its_sla(root, make_queue):
    queue = make_queue("Late", sla_minutes=5)
    items.add_items(queue=queue, specs=[{"priority": "normal"}], now=timezone.now() - timedelta(minutes=10))
    assert 'data-stat="queue-sla"' in root.get("/dashboard/").content.decode()
