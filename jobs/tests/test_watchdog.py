"""The lost-robot watchdog: silent running tasks are marked lost, once, with a failed log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus
from executionlogs.models import ExecutionLog
from jobs import scheduler, timeouts
from rpa_workbench.testing.threads import run_together
from tasks.models import ControlRequest, ControlSource, TaskStatus


def _running(make_task, make_account, seen_minutes_ago: float, **fields):
    account = make_account(status=AccountStatus.RUNNING)
    seen = timezone.now() - timedelta(minutes=seen_minutes_ago)
    fields.setdefault("last_seen_at", seen)
    fields.setdefault("last_run_time", seen)
    return make_task(account=account, status=TaskStatus.RUNNING, **fields)


@pytest.mark.django_db(transaction=True)
def test_silent_running_task_is_marked_lost(make_task, make_account, settings, published_events):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    task = _running(make_task, make_account, seen_minutes_ago=11)

    summary = scheduler.run_once()

    task.refresh_from_db()
    task.account.refresh_from_db()
    assert summary.lost == [str(task.pk)]
    assert task.status == TaskStatus.PENDING
    assert task.account.status == AccountStatus.FAILED
    log = ExecutionLog.objects.get(task=task)
    assert log.status == "failed" and "contact lost" in log.text.lower() and "10 minutes" in log.text
    assert (log.shadow_bot_account, log.app_name, log.account_id) == (
        task.account.shadow_bot_account, task.app_name, task.account_id,
    )
    assert log.end_time >= log.start_time
    assert ControlRequest.objects.get(task=task).source == ControlSource.WATCHDOG
    types = [event_type for event_type, _ in published_events]
    # The task, found running without a job, is adopted (a robot job) and that job ends failed.
    assert sorted(types) == ["account_updated", "alert", "job_updated", "job_updated", "log_created", "task_updated"]
    task_event = next(data for event_type, data in published_events if event_type == "task_updated")
    assert task_event["changes"] == {"status": "pending"}


@pytest.mark.django_db
def test_recent_heartbeat_keeps_the_task_running(make_task, make_account, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    task = _running(make_task, make_account, seen_minutes_ago=9, last_run_time=timezone.now() - timedelta(hours=2))

    assert timeouts.check_lost() == []
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING and not ExecutionLog.objects.exists()


@pytest.mark.django_db
def test_without_heartbeats_the_last_run_time_counts(make_task, make_account, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 60
    fresh = _running(make_task, make_account, seen_minutes_ago=0.5, last_seen_at=None)
    stale = _running(make_task, make_account, seen_minutes_ago=2, last_seen_at=None)

    assert timeouts.check_lost() == [str(stale.pk)]
    fresh.refresh_from_db()
    assert fresh.status == TaskStatus.RUNNING


@pytest.mark.django_db
def test_pending_tasks_are_left_alone(make_task, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 1
    make_task(last_seen_at=timezone.now() - timedelta(days=1))
    assert timeouts.check_lost() == [] and not ExecutionLog.objects.exists()


@pytest.mark.django_db
def test_heartbeat_arriving_before_the_claim_wins(make_task, make_account, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    task = _running(make_task, make_account, seen_minutes_ago=11)
    # The robot's heartbeat lands between the watchdog's scan and its claim.
    type(task).objects.filter(pk=task.pk).update(last_seen_at=timezone.now())

    assert timeouts.mark_lost(task_id=task.pk, now=timezone.now(), timeout=600) is None
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_two_watchdogs_mark_a_task_lost_once(make_task, make_account, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    task = _running(make_task, make_account, seen_minutes_ago=30)
    results = run_together([timeouts.check_lost] * 2)

    assert sorted(results) == [[], [str(task.pk)]]
    assert ExecutionLog.objects.filter(task=task).count() == 1
