"""Timeouts as job transitions, with a controllable clock: wait_timeout, run_timeout (stop sent,
failed with a failed execution log), never_confirmed (test_dispatch.py), lost contact."""

from __future__ import annotations

import pytest

from executionlogs.models import ExecutionLog
from jobs import outbox, timeouts
from jobs.models import JobStatus

pytestmark = pytest.mark.django_db


def test_a_job_waiting_past_its_wait_timeout_is_cancelled(make_task, make_job, clock):
    job = make_job(make_task(), created_at=clock.now, wait_timeout_seconds=600)
    assert timeouts.wait_timeouts(clock.advance(seconds=599)) == []
    assert timeouts.wait_timeouts(clock.advance(seconds=2)) == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.reason) == ("cancelled", "wait_timeout")


def test_a_run_past_its_run_timeout_gets_the_stop_and_ends_failed(make_task, make_job, clock, fake_relay):
    task = make_task(status="running")
    job = make_job(task, JobStatus.RUNNING, started_at=clock.now, run_timeout_seconds=60)
    assert timeouts.run_timeouts(clock.advance(seconds=59)) == []
    assert timeouts.run_timeouts(clock.advance(seconds=2)) == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.reason, fake_relay.requests) == ("stopping", "run_timeout", [])  # queued

    assert len(outbox.send_pending()) == 1  # the dispatcher's pass sends it, then the job ends

    job.refresh_from_db()
    task.refresh_from_db()
    assert (job.status, job.reason, task.status) == ("failed", "run_timeout", "pending")
    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    log = ExecutionLog.objects.get(task=task)
    assert job.execution_log_id == log.pk and log.status == "failed" and "Run timeout" in log.text


def test_a_silent_running_job_ends_lost_contact_with_a_failed_log(make_task, make_job, clock, settings):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    task = make_task(status="running", last_seen_at=clock.now, last_run_time=clock.now)
    job = make_job(task, JobStatus.RUNNING, started_at=clock.now)
    assert timeouts.check_lost(now=clock.advance(seconds=599)) == []
    assert timeouts.check_lost(now=clock.advance(seconds=2)) == [str(task.pk)]
    job.refresh_from_db()
    task.account.refresh_from_db()
    assert (job.status, job.reason, task.account.status) == ("failed", "lost_contact", "failed")
    assert job.execution_log.status == "failed"
