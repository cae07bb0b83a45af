"""Robots take items (API.md §13): `webhook/queue/next` hands out the next ready item — by
priority, then due date (none last), then age; never one deferred to later — to one robot only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from jobs.tests.conftest import build_job
from workqueues import items
from workqueues.models import ItemStatus, QueueItem

pytestmark = pytest.mark.django_db


def add(queue, now, **spec):
    spec.setdefault("priority", "normal")
    return items.add_items(queue=queue, specs=[spec], now=now)[0]


def take(queue, account, now):
    return items.take_next(queue_name=queue.name, shadow_bot_account=account.shadow_bot_account, now=now)


def test_items_are_taken_by_priority_then_due_date_with_undated_last_then_age(make_queue, make_account, now):
    queue, robot = make_queue(), make_account()
    minute = timedelta(minutes=1)
    old_low = add(queue, now, reference="old-low", priority="low")
    undated = add(queue, now + minute, reference="undated")
    due_late = add(queue, now + 2 * minute, reference="due-late", due_at=now + timedelta(days=2))
    due_soon = add(queue, now + 3 * minute, reference="due-soon", due_at=now + timedelta(days=1))
    older_undated = add(queue, now - minute, reference="older-undated")
    urgent = add(queue, now + 4 * minute, reference="urgent", priority="high")
    later = now + timedelta(minutes=10)
    order = [take(queue, robot, later).reference for _ in range(6)]
    assert order == [urgent.reference, due_soon.reference, due_late.reference, older_undated.reference,
                     undated.reference, old_low.reference]
    assert take(queue, robot, later) is None


def test_a_deferred_item_waits_until_its_time(make_queue, make_account, now):
    queue, robot = make_queue(), make_account()
    add(queue, now, reference="tomorrow", priority="high", defer_until=now + timedelta(days=1))
    add(queue, now, reference="today", priority="low")
    assert take(queue, robot, now).reference == "today"
    assert take(queue, robot, now) is None
    assert take(queue, robot, now + timedelta(days=1)).reference == "tomorrow"


def test_taken_item_is_in_progress_for_the_robot_and_its_running_job(make_queue, make_account, make_task, now):
    robot = make_account()
    task = make_task(account=robot, app_name="orders_app")
    job = build_job(task, status="running")
    queue = make_queue(task=task)
    item = add(queue, now, reference="A-1", payload={"order": 1})
    taken = take(queue, robot, now)
    assert taken.pk == item.pk
    assert (taken.status, taken.account_id, taken.job_id, taken.started_at) == (ItemStatus.IN_PROGRESS, robot.pk, job.pk, now)


def test_next_endpoint_answers_the_item_or_null(robot_client, make_queue, make_account):
    queue, robot = make_queue(), make_account()
    client_body = {"queue": queue.name, "shadow_bot_account": robot.shadow_bot_account}
    assert robot_client.post("/api/v1/webhook/queue/next", client_body, format="json").json()["item"] is None
    assert robot_client.post(f"/api/v1/queues/{queue.pk}/items", {}, format="json").status_code == 401  # robots only take
    item = QueueItem.objects.create(queue=queue, payload={"n": 1}, created_at=queue.created_at)
    answer = robot_client.post("/api/v1/webhook/queue/next", client_body, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["item"]["id"] == str(item.pk)
    assert body["item"]["status"] == "in_progress" and body["item"]["payload"] == {"n": 1}
    assert body["item"]["account_id"] == str(robot.pk)


def test_robot_endpoints_need_the_webhook_secret(anon_client, make_queue, make_account):
    queue, robot = make_queue(), make_account()
    answer = anon_client.post("/api/v1/webhook/queue/next", {"queue": queue.name, "shadow_bot_account": robot.shadow_bot_account}, format="json")
    assert answer.status_code == 401
    assert QueueItem.objects.count() == 0


def test_unknown_queue_or_robot_is_404(robot_client, make_queue, make_account):
    queue, robot = make_queue(), make_account()
    missing_queue = robot_client.post("/api/v1/webhook/queue/next", {"queue": "nope", "shadow_bot_account": robot.shadow_bot_account}, format="json")
    missing_robot = robot_client.post("/api/v1/webhook/queue/next", {"queue": queue.name, "shadow_bot_account": "ghost"}, format="json")
    assert (missing_queue.status_code, missing_queue.json()["code"]) == (404, "NOT_FOUND")
    assert (missing_robot.status_code, missing_robot.json()["code"]) == (404, "NOT_FOUND")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_freshly_loaded_queue_is_taken_from_its_index_without_sorting(make_queue, now):
    """The take reads the next item off the `queueitem_take` index, whatever the planner knows: a
    queue loaded a moment ago has no statistics yet, and the take used to sort all its new items
    on every call (28 ms at 100,000, bench/README.md) until autovacuum analysed the table."""
    queue = make_queue()
    for batch in range(3):
        specs = [{"reference": f"order-{batch}-{n}", "priority": "normal"} for n in range(1000)]
        items.add_items(queue=queue, specs=specs, now=now)
    params = [ItemStatus.IN_PROGRESS, now, None, None, queue.pk, ItemStatus.NEW, now]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + items._claim_sql(), [items._db_value(value) for value in params])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "queueitem_take" in plan
    assert "Sort" not in plan, plan
