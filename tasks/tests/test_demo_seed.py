"""`seed_demo` (make demo): the demo does not begin by skipping its own schedule, every demo task
retries, and a retry shows within the first minutes (the simulator fails RETRY_DEMO_APP's first
run). The whole demo, live: tasks/tests/test_demo_live.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts.models import Alert
from jobs import scheduler
from tasks.management.commands import seed_demo
from tasks.models import ControlOutcome, ControlRequest, Task

pytestmark = pytest.mark.django_db


def test_the_queue_demo_first_cron_slot_comes_after_its_one_shot_start(fake_relay):
    call_command("seed_demo")
    queue = Task.objects.filter(account__shadow_bot_account="demo_queue_bot")
    for task in queue:
        assert task.next_run_at >= task.trigger_time + seed_demo.QUEUE_DEMO_SPAN

    start = timezone.now()
    for seconds in range(0, int(seed_demo.QUEUE_DEMO_SPAN.total_seconds()) + 1, 20):
        scheduler.run_once(now=start + timedelta(seconds=seconds))
    assert queue.filter(trigger_time__isnull=True).count() == 3  # the one-shot fired
    skipped = ControlRequest.objects.filter(task__in=queue, outcome=ControlOutcome.SKIPPED)
    assert not skipped.exists()
    assert not Alert.objects.filter(event="schedule_skipped", task__in=queue).exists()


def test_a_second_seed_moves_the_queue_demo_again(fake_relay):
    call_command("seed_demo")
    first = set(Task.objects.filter(account__shadow_bot_account="demo_queue_bot").values_list("trigger_time", flat=True))
    call_command("seed_demo")
    again = set(Task.objects.filter(account__shadow_bot_account="demo_queue_bot").values_list("trigger_time", flat=True))
    assert len(again) == 1 and again != first


def test_every_demo_task_retries_and_one_is_started_soon_to_show_a_retry(fake_relay, make_account, make_task):
    call_command("seed_demo")
    assert set(Task.objects.values_list("max_retries", "retry_delay_seconds")) == {(2, 15)}
    retry_demo = Task.objects.get(app_name=seed_demo.RETRY_DEMO_APP)
    assert timezone.now() < retry_demo.trigger_time <= timezone.now() + timedelta(seconds=30)


def test_a_task_an_operator_set_keeps_its_retries(fake_relay):
    call_command("seed_demo")
    Task.objects.filter(app_name="order_sync").update(max_retries=5)
    call_command("seed_demo")
    assert Task.objects.get(app_name="order_sync").max_retries == 5


def test_the_demo_pool_spreads_its_queued_jobs_over_its_three_robots(fake_relay):
    from jobs import dispatcher
    from jobs.models import BUSY, Job
    from pools.models import Pool

    call_command("seed_demo")
    pool = Pool.objects.get(name=seed_demo.POOL_NAME)
    assert sorted(pool.accounts.values_list("shadow_bot_account", flat=True)) == ["demo_pool_01", "demo_pool_02", "demo_pool_03"]
    task = Task.objects.get(app_name=seed_demo.POOL_TASK[1])
    assert (task.pool_id, task.max_parallel_jobs) == (pool.pk, 3)
    assert Job.objects.filter(task=task, status="queued", any_robot=True).count() == seed_demo.POOL_DEMO_JOBS
    dispatcher.run_once(wait_for_sends=True)
    busy = Job.objects.filter(task=task, status__in=BUSY)
    assert sorted(busy.values_list("shadow_bot_account", flat=True)) == ["demo_pool_01", "demo_pool_02", "demo_pool_03"]
    call_command("seed_demo")  # again: its jobs still wait, nothing more is queued
    assert Job.objects.filter(task=task).count() == seed_demo.POOL_DEMO_JOBS


def test_seeding_against_a_live_server_tells_its_streams_and_lists(
    fake_relay, published_events, django_capture_on_commit_callbacks
):
    """Re-run while a server serves, the seed's robots, tasks and moved triggers reach the event
    stream (and so every cached list) like the API's own writes; a second seed creates nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    created = {(kind, data.get("shadow_bot_account"), data.get("app_name"))
               for kind, data in published_events if data.get("changes", {}).get("created")}
    robots = {("account_updated", name, None) for name, _, _, _ in seed_demo.demo_robots()}
    assert robots <= {(kind, name, None) for kind, name, _ in created}
    tasks = {(task.account.shadow_bot_account, task.app_name) for task in Task.objects.select_related("account")}
    assert tasks == {(name, app) for kind, name, app in created if kind == "task_updated"}
    assert Task.objects.exclude(schedule="").filter(next_run_at__isnull=True).count() == 0

    published_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    assert not [data for _, data in published_events if data.get("changes", {}).get("created")]
    moved = {data["app_name"] for kind, data in published_events
             if kind == "task_updated" and "trigger_time" in data.get("changes", {})}
    assert moved == {app for _, app, _ in seed_demo.QUEUE_TASKS} | {seed_demo.RETRY_DEMO_APP}
