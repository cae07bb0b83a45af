"""Issue 22, bugs 6, 7 and 9, and the scheduler suspect: a reason that goes stale, a watchdog log
that collided, jobs of deleted tasks and robots, and a claim without its job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from jobs import dispatcher, scheduler, services, timeouts, transitions
from jobs.models import Job, JobReason, JobStatus
from jobs.reports import record_execution
from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db


def test_bug6_a_job_completed_after_its_run_timeout_stop_keeps_no_stale_reason(make_task, make_job):
    task = make_task(status=TaskStatus.RUNNING)
    job = make_job(task, JobStatus.RUNNING, started_at=timezone.now(), dispatched_at=timezone.now())
    with transaction.atomic():
        transitions.begin_stop(job, now=timezone.now(), reason=JobReason.RUN_TIMEOUT)
    record_execution(  # the robot finished before the stop reached it
        shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, status="completed",
        start_time=job.started_at, execution_id=str(job.pk),
    )
    job.refresh_from_db()
    assert (job.status, job.reason) == (JobStatus.COMPLETED, None)


def test_bug7_the_watchdog_ends_a_stopped_never_confirmed_job_despite_an_earlier_report(make_task, make_job, settings):
    """Its synthetic log used the start time of the robot's previous report (the log's unique
    key): every pass failed with IntegrityError and the job stayed stopping for ever."""
    task = make_task()
    earlier = timezone.now() - timedelta(hours=1)
    record_execution(shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name,
                     status="completed", start_time=earlier)  # task.last_run_time = earlier
    job = make_job(task, JobStatus.DISPATCHED, dispatched_at=timezone.now())
    with transaction.atomic():
        transitions.begin_stop(job, now=timezone.now())  # stopped before the robot confirmed
    Task.objects.filter(pk=task.pk).update(last_seen_at=None)

    later = timezone.now() + timedelta(seconds=settings.RPA_HEARTBEAT_TIMEOUT + 60)
    assert timeouts.check_lost(now=later) == [str(task.pk)]
    job.refresh_from_db()
    assert (job.status, job.reason) == (JobStatus.FAILED, JobReason.LOST_CONTACT)


def test_bug9_a_queued_job_of_a_deleted_task_is_never_sent_and_is_cancelled(make_account, make_task, make_job, fake_relay):
    account = make_account()
    orphan = make_job(make_task(account))
    Task.objects.filter(pk=orphan.task_id).delete()

    summary = dispatcher.run_once()

    orphan.refresh_from_db()
    assert fake_relay.requests == [] and summary.sent == []
    assert (orphan.status, orphan.reason) == (JobStatus.CANCELLED, JobReason.CANCELLED)


def test_bug9_stopping_a_job_whose_task_and_robot_were_deleted_ends_it(make_task, make_job, fake_relay):
    task = make_task(status=TaskStatus.RUNNING)
    job = make_job(task, JobStatus.DISPATCHED, dispatched_at=timezone.now())
    Task.objects.filter(pk=task.pk).delete()
    Account.objects.filter(pk=task.account_id).delete()
    job = Job.objects.get(pk=job.pk)

    job, request = services.stop_job(job=job, source="api")

    assert (job.status, request, fake_relay.requests) == (JobStatus.STOPPED, None, [])


def test_suspect_a_scheduler_crash_between_claim_and_job_loses_nothing(make_task, monkeypatch, fake_relay):
    """Proven: the claim (trigger_time cleared) committed before the job was created, so a crash
    in between lost the run. Now both are one transaction: the next pass starts it."""
    task = make_task(trigger_time=timezone.now() - timedelta(seconds=1))

    def crash(**kwargs):
        raise RuntimeError("the scheduler's process died here")

    monkeypatch.setattr(services, "start_job", crash)
    scheduler.run_once()
    task.refresh_from_db()
    assert task.trigger_time is not None and not Job.objects.exists()

    monkeypatch.undo()
    scheduler.run_once()
    task.refresh_from_db()
    assert task.trigger_time is None and Job.objects.filter(task=task).count() == 1
