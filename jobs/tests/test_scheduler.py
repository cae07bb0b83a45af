"""Scheduled starts: one-shot trigger_time, recurring cron schedules, several schedulers racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import scheduler
from rpa_workbench.testing.threads import run_together
from tasks.models import ControlOutcome, ControlRequest, ControlSource, TaskStatus


def _starts(relay) -> list[dict[str, str]]:
    return [q for q in relay.queries if q.get("target") == "START"]


@pytest.mark.django_db
def test_due_one_shot_starts_once_and_clears_trigger_time(make_task, fake_relay):
    task = make_task(trigger_time=timezone.now() - timedelta(seconds=5))

    summary = scheduler.run_once()
    again = scheduler.run_once()

    task.refresh_from_db()
    assert summary.started == [str(task.pk)] and not again
    assert task.trigger_time is None
    assert len(_starts(fake_relay)) == 1
    assert _starts(fake_relay)[0]["tak"] == task.app_name
    assert ControlRequest.objects.get(task=task).source == ControlSource.SCHEDULER


@pytest.mark.django_db
def test_future_one_shot_is_not_started(make_task, fake_relay):
    task = make_task(trigger_time=timezone.now() + timedelta(minutes=5))
    assert not scheduler.run_once()
    task.refresh_from_db()
    assert task.trigger_time is not None and fake_relay.requests == []


@pytest.mark.django_db(transaction=True)
def test_due_one_shot_starts_exactly_once_with_two_schedulers_racing(make_task, fake_relay):
    tasks = [make_task(trigger_time=timezone.now() - timedelta(seconds=1)) for _ in range(5)]
    fake_relay.delay = 0.05
    summaries = run_together([scheduler.run_once] * 2)

    started = sorted(pk for summary in summaries for pk in summary.started)
    assert started == sorted(str(t.pk) for t in tasks)
    assert sorted(q["tak"] for q in _starts(fake_relay)) == sorted(t.app_name for t in tasks)


@pytest.mark.django_db
def test_one_shot_due_while_running_is_skipped_and_the_skip_recorded(make_task, fake_relay):
    task = make_task(status=TaskStatus.RUNNING, trigger_time=timezone.now() - timedelta(seconds=1))

    summary = scheduler.run_once()

    task.refresh_from_db()
    assert summary.skipped == [str(task.pk)] and fake_relay.requests == []
    assert task.trigger_time is None
    skip = ControlRequest.objects.get(task=task)
    assert (skip.source, skip.outcome) == (ControlSource.SCHEDULER, ControlOutcome.SKIPPED)


@pytest.mark.django_db
def test_a_skip_reaches_the_skip_hooks_in_the_transaction_of_its_claim(make_task, fake_relay, monkeypatch):
    """The alerts app hears of skips through SKIP_HOOKS (jobs sits below alerts): a hook sees the
    recorded skip, and what it does commits or rolls back with the claim and the skip."""
    task = make_task(status=TaskStatus.RUNNING, trigger_time=timezone.now() - timedelta(seconds=1))
    seen = []

    def failing_hook(skipped, request):
        seen.append((skipped.pk, request.source, request.outcome))
        raise RuntimeError("the hook failed")

    monkeypatch.setattr(scheduler, "SKIP_HOOKS", [failing_hook])
    assert not scheduler.run_once()  # the pass logs the failure and goes on
    task.refresh_from_db()
    assert seen == [(task.pk, ControlSource.SCHEDULER, ControlOutcome.SKIPPED)]
    assert task.trigger_time is not None and not ControlRequest.objects.filter(task=task).exists()

    monkeypatch.setattr(scheduler, "SKIP_HOOKS", [lambda skipped, request: seen.append(skipped.pk)])
    assert scheduler.run_once().skipped == [str(task.pk)]
    task.refresh_from_db()
    assert seen[1:] == [task.pk] and task.trigger_time is None
    assert ControlRequest.objects.get(task=task).outcome == ControlOutcome.SKIPPED


def test_the_alerts_app_registers_its_schedule_skipped_hook():
    from alerts.sources import schedule_skipped

    assert scheduler.SKIP_HOOKS.count(schedule_skipped) == 1


@pytest.mark.django_db
def test_due_start_with_unconfirmed_earlier_start_is_skipped_once(make_task, fake_relay):
    task = make_task(start_requested_at=timezone.now(), trigger_time=timezone.now() - timedelta(seconds=1))

    summary = scheduler.run_once()

    assert summary.skipped == [str(task.pk)] and fake_relay.requests == []
    skips = ControlRequest.objects.filter(task=task, outcome=ControlOutcome.SKIPPED, source=ControlSource.SCHEDULER)
    assert skips.count() == 1


@pytest.mark.django_db
def test_relay_failure_is_recorded_and_not_retried(make_task, fake_relay):
    fake_relay.status = 500
    task = make_task(trigger_time=timezone.now() - timedelta(seconds=1))

    summary = scheduler.run_once()
    scheduler.run_once()

    assert summary.failed == [str(task.pk)]
    assert len(_starts(fake_relay)) == 1
    assert ControlRequest.objects.get(task=task).outcome == ControlOutcome.FAILED


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


@pytest.mark.django_db
def test_cron_task_gets_its_next_slot_then_starts_at_it_and_not_twice(make_task, fake_relay):
    task = make_task(schedule="*/5 * * * *", schedule_timezone="UTC")

    scheduler.run_once(now=_at(10, 2))
    task.refresh_from_db()
    assert task.next_run_at == _at(10, 5) and fake_relay.requests == []

    assert not scheduler.run_once(now=_at(10, 4, 59))
    assert scheduler.run_once(now=_at(10, 5, 1)).started == [str(task.pk)]
    assert not scheduler.run_once(now=_at(10, 5, 30))

    task.refresh_from_db()
    assert task.next_run_at == _at(10, 10)
    assert len(_starts(fake_relay)) == 1


@pytest.mark.django_db
def test_cron_reads_the_schedule_in_its_time_zone(make_task, fake_relay):
    task = make_task(schedule="0 9 * * *", schedule_timezone="Asia/Shanghai")
    scheduler.run_once(now=_at(0, 30))
    task.refresh_from_db()
    assert task.next_run_at == _at(1, 0)  # 09:00 in Shanghai is 01:00 UTC


@pytest.mark.django_db
def test_missed_slots_after_downtime_start_once(make_task, fake_relay):
    task = make_task(schedule="* * * * *", schedule_timezone="UTC", next_run_at=_at(10, 0))

    # The scheduler was down for an hour: 60 slots missed.
    first = scheduler.run_once(now=_at(11, 0, 30))
    second = scheduler.run_once(now=_at(11, 0, 40))

    task.refresh_from_db()
    assert first.started == [str(task.pk)] and not second
    assert len(_starts(fake_relay)) == 1
    assert task.next_run_at == _at(11, 1)


@pytest.mark.django_db(transaction=True)
def test_due_cron_task_starts_exactly_once_with_two_schedulers_racing(make_task, fake_relay):
    task = make_task(schedule="* * * * *", schedule_timezone="UTC", next_run_at=_at(10, 0))
    barrier = threading.Barrier(2)

    def scheduler_process():
        barrier.wait()
        try:
            scheduler.run_once(now=_at(10, 0, 5))
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(_starts(fake_relay)) == 1
    assert ControlRequest.objects.filter(task=task, source=ControlSource.SCHEDULER).count() == 1


@pytest.mark.django_db
def test_cron_task_running_at_its_slot_is_skipped_and_rescheduled(make_task, fake_relay):
    task = make_task(
        status=TaskStatus.RUNNING, schedule="*/5 * * * *", schedule_timezone="UTC",
        next_run_at=_at(10, 5), last_seen_at=_at(10, 4),
    )
    summary = scheduler.run_once(now=_at(10, 5, 1))
    task.refresh_from_db()
    assert summary.skipped == [str(task.pk)] and fake_relay.requests == []
    assert task.next_run_at == _at(10, 10)
    assert ControlRequest.objects.get(task=task).outcome == ControlOutcome.SKIPPED


@pytest.mark.django_db
def test_removed_schedule_does_not_fire(make_task, fake_relay):
    task = make_task(schedule="", next_run_at=_at(10, 0))
    assert not scheduler.run_once(now=_at(10, 1))
    task.refresh_from_db()
    assert task.next_run_at is None and fake_relay.requests == []


def test_run_forever_stops_when_asked(db, settings):
    stop = threading.Event()
    stop.set()
    scheduler.run_forever(interval=0.01, stop=stop)  # returns at once instead of looping


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["one-shot", "cron"])
def test_tasks_due_together_start_high_then_normal_then_low(kind, make_account, make_task, fake_relay):
    """Each scheduled start commits its job on its own, and the dispatcher may claim a robot's
    first job before the next exists: tasks due at the same moment start in the order the robot's
    queue runs them (priority, then age), whatever order they were created or stored in."""
    robot = make_account()
    due = {"trigger_time": _at(10, 0)} if kind == "one-shot" else {"schedule": "*/5 * * * *", "schedule_timezone": "UTC"}
    tasks = {priority: make_task(robot, app_name=f"{priority}_app", priority=priority, **due)
             for priority in ("low", "normal", "high")}
    if kind == "cron":
        scheduler.run_once(now=_at(9, 58))  # each gets its next slot, 10:00

    started = scheduler.run_once(now=_at(10, 0, 1)).started

    assert started == [str(tasks[priority].pk) for priority in ("high", "normal", "low")]
