"""Results (API.md §13): successful ends an item; an application failure is retried (a new `new`
item, `retry_number` + 1, deferred by `retry_delay_seconds`) while `retry_number < max_retries`;
a business failure is final; an item failed for good raises `queue_item_failed`. A repeated
result changes nothing; a result for an item not in progress is 409."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.models import Alert
from workqueues import items
from workqueues.models import ItemStatus, QueueItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def robot(make_account):
    return make_account(shadow_bot_account="queue_bot")


def add_and_take(queue, robot, now, **spec):
    spec.setdefault("priority", "normal")
    items.add_items(queue=queue, specs=[spec], now=now)
    return items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account, now=now)


def result_url(item):
    return f"/api/v1/webhook/queue/items/{item.pk}/result"


def test_successful_result_ends_the_item_with_its_output(robot_client, make_queue, robot, now):
    item = add_and_take(make_queue(), robot, now)
    answer = robot_client.post(result_url(item), {"status": "successful", "output": {"invoice": "INV-9"}}, format="json")
    assert answer.status_code == 200, answer.json()
    item.refresh_from_db()
    assert (item.status, item.output, item.error_type) == (ItemStatus.SUCCESSFUL, {"invoice": "INV-9"}, None)
    assert item.finished_at is not None


def test_the_same_result_twice_changes_nothing_the_second_time(robot_client, make_queue, robot, now):
    item = add_and_take(make_queue(max_retries=3), robot, now)
    body = {"status": "failed", "error_message": "timeout"}
    first = robot_client.post(result_url(item), body, format="json")
    second = robot_client.post(result_url(item), body, format="json")
    assert (first.status_code, second.status_code) == (200, 200)
    assert QueueItem.objects.filter(retry_of=item).count() == 1  # one retry, not two


def test_a_different_result_for_an_ended_item_is_409(robot_client, make_queue, robot, now):
    item = add_and_take(make_queue(), robot, now)
    robot_client.post(result_url(item), {"status": "successful"}, format="json")
    answer = robot_client.post(result_url(item), {"status": "failed"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "ITEM_NOT_IN_PROGRESS")
    new = QueueItem.objects.create(queue=item.queue, created_at=now)
    answer = robot_client.post(result_url(new), {"status": "successful"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "ITEM_NOT_IN_PROGRESS")


def test_application_failures_are_retried_up_to_max_retries_after_the_delay(make_queue, robot, now):
    queue = make_queue(max_retries=2, retry_delay_seconds=60, unique_references=True)
    item = add_and_take(queue, robot, now, reference="ORD-1", payload={"n": 1}, priority="high")
    seen = [item]
    clock = now
    for expected_retry in (1, 2):
        items.record_result(item_id=seen[-1].pk, status="failed", error_message="portal down", now=clock)
        retry = QueueItem.objects.get(retry_of=seen[-1])
        assert (retry.status, retry.retry_number, retry.reference, retry.payload, retry.priority) == (
            ItemStatus.NEW, expected_retry, "ORD-1", {"n": 1}, "high")
        assert retry.defer_until == clock + timedelta(seconds=60)
        assert items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account, now=clock) is None
        clock += timedelta(seconds=60)
        seen.append(items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account, now=clock))
        assert seen[-1].pk == retry.pk
    items.record_result(item_id=seen[-1].pk, status="failed", error_message="portal down", now=clock)
    assert not QueueItem.objects.filter(retry_of=seen[-1]).exists()  # retry_number 2 = max_retries: final
    assert QueueItem.objects.filter(queue=queue).count() == 3
    alert = Alert.objects.get(event="queue_item_failed")
    assert alert.context["reference"] == "ORD-1" and alert.context["queue"] == queue.name


def test_business_failures_are_final_and_alert_once(robot_client, make_queue, robot, now):
    item = add_and_take(make_queue(max_retries=5), robot, now, reference="ORD-2")
    body = {"status": "failed", "error_type": "business", "error_message": "customer account closed"}
    assert robot_client.post(result_url(item), body, format="json").status_code == 200
    assert robot_client.post(result_url(item), body, format="json").status_code == 200
    item.refresh_from_db()
    assert (item.status, item.error_type, item.error_message) == (ItemStatus.FAILED, "business", "customer account closed")
    assert not QueueItem.objects.filter(retry_of=item).exists()
    assert Alert.objects.filter(event="queue_item_failed").count() == 1


def test_zero_max_retries_never_retries(make_queue, robot, now):
    item = add_and_take(make_queue(max_retries=0), robot, now)
    items.record_result(item_id=item.pk, status="failed", error_type="application", now=now)
    assert QueueItem.objects.count() == 1


def test_result_bodies_are_validated(robot_client, make_queue, robot, now):
    item = add_and_take(make_queue(), robot, now)
    too_big = {"blob": "x" * (64 * 1024)}
    for body, field in (
        ({"status": "done"}, "status"),
        ({"status": "successful", "output": [1, 2]}, "output"),
        ({"status": "successful", "output": too_big}, "output"),
        ({"status": "successful", "error_type": "business"}, "error_type"),
        ({"status": "failed", "error_type": "cosmic"}, "error_type"),
    ):
        answer = robot_client.post(result_url(item), body, format="json")
        assert answer.status_code == 400, body
        assert answer.json()["code"] == "VALIDATION_ERROR" and field in answer.json()["message"]
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_PROGRESS


def test_result_for_an_unknown_item_is_404(robot_client):
    answer = robot_client.post("/api/v1/webhook/queue/items/8f1d7a3e-7a41-4c43-9d38-2f4f1e1b0a11/result", {"status": "successful"}, format="json")
    assert answer.status_code == 404
