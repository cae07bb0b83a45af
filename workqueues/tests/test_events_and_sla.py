"""`queue_updated` at most once a second per queue, the last state always sent; SLA alerts once
per breach (API.md §13)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.models import Alert
from workqueues import changes, items, sla
from workqueues.models import WorkQueue

pytestmark = pytest.mark.django_db


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the marks, the events' hand-over) as a real commit would."""
    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def queue_events(published):
    return [data for kind, data in published if kind == "queue_updated"]


def test_a_burst_of_changes_is_one_event_a_second_with_the_last_state(commits, published_events, make_queue, now):
    queue = make_queue()
    for _ in range(5):
        commits(items.add_items, queue=queue, specs=[{"priority": "normal"}], now=now)
    assert commits(changes.publish_due, now) == [str(queue.pk)]
    assert queue_events(published_events) == [{"queue_id": str(queue.pk), "name": "orders", "counts": {
        "new": 5, "in_progress": 0, "successful": 0, "failed": 0, "abandoned": 0, "deleted": 0}}]
    commits(items.add_items, queue=queue, specs=[{"priority": "normal"}], now=now)
    assert commits(changes.publish_due, now + timedelta(milliseconds=500)) == []  # within the second
    commits(items.add_items, queue=queue, specs=[{"priority": "normal"}], now=now)
    assert commits(changes.publish_due, now + timedelta(seconds=1)) == [str(queue.pk)]
    assert [event["counts"]["new"] for event in queue_events(published_events)] == [5, 7]
    assert commits(changes.publish_due, now + timedelta(seconds=5)) == []  # nothing changed since


def test_a_change_committed_after_the_worker_cleared_the_mark_is_published_next(commits, published_events, make_queue, now):
    queue = make_queue()
    commits(items.add_items, queue=queue, specs=[{"priority": "normal"}], now=now)
    WorkQueue.objects.filter(pk=queue.pk).update(events_pending=False, events_published_at=now)  # the worker's claim
    commits(items.add_items, queue=queue, specs=[{"priority": "normal"}], now=now)  # commits after it
    assert commits(changes.publish_due, now + timedelta(seconds=1)) == [str(queue.pk)]
    assert queue_events(published_events)[-1]["counts"]["new"] == 2


def test_sla_breach_alerts_once_and_again_after_recovery(commits, make_queue, make_account, now):
    queue, robot = make_queue(sla_minutes=10), make_account()
    items.add_items(queue=queue, specs=[{"priority": "normal", "reference": "old"}], now=now)
    assert sla.check(now + timedelta(minutes=9)) == []
    assert sla.check(now + timedelta(minutes=11)) == [str(queue.pk)]
    assert sla.check(now + timedelta(minutes=12)) == []
    alert = Alert.objects.get(event="queue_sla_breached")
    assert alert.context["queue"] == "orders" and "SLA 10 min" in alert.message
    taken = items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account, now=now + timedelta(minutes=13))
    items.record_result(item_id=taken.pk, status="successful", now=now + timedelta(minutes=13))
    assert sla.check(now + timedelta(minutes=14)) == []  # recovered: the breach is cleared
    items.add_items(queue=queue, specs=[{"priority": "normal"}], now=now + timedelta(minutes=15))
    assert sla.check(now + timedelta(minutes=26)) == [str(queue.pk)]
    assert Alert.objects.filter(event="queue_sla_breached").count() == 2


def test_deferred_items_do_not_count_against_the_sla_until_ready(make_queue, now):
    queue = make_queue(sla_minutes=10)
    items.add_items(queue=queue, specs=[{"priority": "normal", "defer_until": now + timedelta(hours=1)}], now=now)
    assert sla.check(now + timedelta(minutes=30)) == []
