"""Queue triggers (API.md §13): jobs of the queue's task (source `queue`) are started through the
jobs app while at least `trigger_min_items` items are ready, never more than there are ready
items nor than `trigger_max_jobs`, and none once the queue is empty."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import Job, JobStatus
from workqueues import items, trigger, worker
from workqueues.models import QueueItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def relay_on(settings):
    settings.RPA_RELAY_URL = "http://127.0.0.1:9/yingdao"  # configured; inline=False never calls it


def add(queue, now, count, **spec):
    items.add_items(queue=queue, specs=[{"priority": "normal", **spec} for _ in range(count)], now=now)


@pytest.mark.parametrize(("ready", "active", "min_items", "max_jobs", "wanted"), [
    (0, 0, 1, 5, 0), (2, 0, 3, 5, 0), (3, 0, 3, 5, 3), (10, 0, 1, 5, 5), (10, 4, 1, 5, 1), (10, 6, 1, 5, 0), (2, 1, 1, 5, 1),
])
def test_how_many_jobs_a_trigger_wants(ready, active, min_items, max_jobs, wanted):
    assert trigger.jobs_wanted(ready=ready, active=active, min_items=min_items, max_jobs=max_jobs) == wanted


def test_a_trigger_starts_a_job_only_while_enough_items_are_ready(relay_on, make_queue, make_task, now):
    task = make_task()
    queue = make_queue(task=task, trigger_min_items=3, trigger_max_jobs=1)
    add(queue, now, 2)
    assert worker.run_once(now=now).started == []
    add(queue, now, 1, defer_until=now + timedelta(hours=1))  # not ready yet
    assert worker.run_once(now=now + timedelta(seconds=1)).started == []
    started = worker.run_once(now=now + timedelta(hours=1)).started
    assert len(started) == 1
    job = Job.objects.get(pk=started[0])
    assert (job.task_id, job.source, job.status) == (task.pk, "queue", JobStatus.QUEUED)
    # The task has its job: nothing more while it is active.
    assert worker.run_once(now=now + timedelta(hours=1, seconds=5)).started == []


def test_a_trigger_stops_starting_when_the_queue_is_empty(relay_on, make_queue, make_task, make_account, now):
    task = make_task()
    queue = make_queue(task=task, trigger_min_items=1)
    add(queue, now, 1)
    first = worker.run_once(now=now).started
    assert len(first) == 1
    item = items.take_next(queue_name=queue.name, shadow_bot_account=task.account.shadow_bot_account, now=now)
    items.record_result(item_id=item.pk, status="successful", now=now)
    Job.objects.filter(pk=first[0]).update(status=JobStatus.COMPLETED)
    assert worker.run_once(now=now + timedelta(seconds=5)).started == []
    assert QueueItem.objects.filter(status="new").count() == 0


def test_a_queue_is_evaluated_by_one_worker_at_a_time(relay_on, make_queue, make_task, now):
    queue = make_queue(task=make_task(), trigger_min_items=1)
    add(queue, now, 5)
    assert len(trigger.run(now)) == 1
    Job.objects.all().delete()
    assert trigger.run(now + timedelta(milliseconds=100)) == []  # claimed moments ago
    assert len(trigger.run(now + timedelta(seconds=1))) == 1


def test_a_trigger_without_a_configured_backend_starts_nothing_and_keeps_going(make_queue, make_task, now):
    queue = make_queue(task=make_task(), trigger_min_items=1)
    add(queue, now, 3)
    assert worker.run_once(now=now).started == []
    assert not Job.objects.exists()


def test_a_trigger_on_a_pool_task_keeps_jobs_going_on_different_robots(relay_on, make_queue, make_task, make_account, now):
    from jobs import queue as job_queue
    from pools.models import Pool

    robots = [make_account() for _ in range(3)]
    pool = Pool.objects.create(name="Queue workers")
    pool.accounts.set(robots)
    task = make_task(robots[0], pool=pool, max_parallel_jobs=3)
    queue = make_queue(task=task, trigger_min_items=1, trigger_max_jobs=3)
    add(queue, now, 10)
    started = worker.run_once(now=now).started
    assert len(started) == 3  # a pool task runs several jobs at once (API.md §12)
    job_queue.claim_many([robot.pk for robot in robots], now=now)
    busy = Job.objects.filter(task=task, status=JobStatus.DISPATCHED)
    assert sorted(busy.values_list("account_id", flat=True)) == sorted(robot.pk for robot in robots)
    assert worker.run_once(now=now + timedelta(seconds=5)).started == []  # three active: enough
