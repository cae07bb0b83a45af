"""Abandoned items (API.md §13): in progress longer than `abandon_after_minutes`, or their job
ended without a result for them → `abandoned`, retried like an application failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from alerts.models import Alert
from jobs import transitions
from jobs.models import JobReason
from jobs.tests.conftest import build_job
from workqueues import items, worker
from workqueues.models import ItemStatus, QueueItem

pytestmark = pytest.mark.django_db


def take_one(queue, robot, now, **spec):
    items.add_items(queue=queue, specs=[{"priority": "normal", **spec}], now=now)
    return items.take_next(queue_name=queue.name, shadow_bot_account=robot.shadow_bot_account, now=now)


def test_an_item_in_progress_too_long_is_abandoned_and_retried(make_queue, make_account, now):
    queue, robot = make_queue(abandon_after_minutes=30, max_retries=1, retry_delay_seconds=10), make_account()
    item = take_one(queue, robot, now, reference="slow")
    assert worker.run_once(now=now + timedelta(minutes=29)).abandoned == []
    later = now + timedelta(minutes=31)
    assert worker.run_once(now=later).abandoned == [str(item.pk)]
    item.refresh_from_db()
    assert (item.status, item.error_type, item.finished_at) == (ItemStatus.ABANDONED, "application", later)
    retry = QueueItem.objects.get(retry_of=item)
    assert (retry.status, retry.retry_number, retry.defer_until) == (ItemStatus.NEW, 1, later + timedelta(seconds=10))
    assert worker.run_once(now=later).abandoned == []  # once


def test_an_abandoned_item_out_of_retries_fails_for_good_with_an_alert(make_queue, make_account, now):
    queue, robot = make_queue(abandon_after_minutes=5, max_retries=0), make_account()
    item = take_one(queue, robot, now, reference="lost")
    worker.run_once(now=now + timedelta(minutes=6))
    assert not QueueItem.objects.filter(retry_of=item).exists()
    assert Alert.objects.get(event="queue_item_failed").context["item_id"] == str(item.pk)


def test_items_of_a_job_that_ends_without_their_result_are_abandoned_in_its_transition(make_queue, make_account, make_task, now):
    robot = make_account()
    task = make_task(account=robot, app_name="orders_app")
    job = build_job(task, status="running")
    queue = make_queue(task=task, max_retries=2)
    held = take_one(queue, robot, now, reference="held")
    done = take_one(queue, robot, now, reference="done")
    items.record_result(item_id=done.pk, status="successful", now=now)
    assert held.job_id == job.pk
    with transaction.atomic():
        transitions.fail(job, now=now + timedelta(minutes=1), reason=JobReason.LOST_CONTACT, expected=["running"])
    held.refresh_from_db()
    done.refresh_from_db()
    assert held.status == ItemStatus.ABANDONED and "job ended" in held.error_message
    assert done.status == ItemStatus.SUCCESSFUL
    assert QueueItem.objects.get(retry_of=held).status == ItemStatus.NEW


def test_a_late_result_for_an_abandoned_item_is_409(robot_client, make_queue, make_account, now):
    queue, robot = make_queue(abandon_after_minutes=1), make_account()
    item = take_one(queue, robot, now)
    worker.run_once(now=now + timedelta(minutes=2))
    answer = robot_client.post(f"/api/v1/webhook/queue/items/{item.pk}/result", {"status": "successful"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "ITEM_NOT_IN_PROGRESS")
