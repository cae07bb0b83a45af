"""Robots' reports attach to jobs (API.md §5): confirm and execution-complete move the task's
current job; a stale report is history only (issue 14 bug 4); execution_id = job id attaches
exactly; a run started on the robot itself becomes a `robot` job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from executionlogs.models import ExecutionLog
from jobs import reports, services
from jobs.models import Job, JobSource, JobStatus
from jobs.reports import record_execution

pytestmark = pytest.mark.django_db


@pytest.fixture
def robot(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100")
    return make_task(account, app_name="daily_report")


def report(start, status="completed", **extra):
    return record_execution(
        shadow_bot_account="bot_01", app_name="daily_report", status=status,
        start_time=start, end_time=start + timedelta(minutes=1), **extra,
    )


def test_a_started_job_runs_then_completes_from_the_report(robot, fake_relay):
    job = services.start_job(task=robot, source=JobSource.API).job
    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING

    log, _ = report(timezone.now())

    job.refresh_from_db()
    robot.refresh_from_db()
    assert (job.status, job.execution_log_id, robot.status, robot.start_requested_at) == ("completed", log.pk, "pending", None)


def test_a_report_clears_an_unconfirmed_start(robot, fake_relay):
    services.start_job(task=robot, source=JobSource.API)
    report(timezone.now())
    robot.refresh_from_db()
    assert robot.start_requested_at is None  # bug 4: execution-complete never cleared it


def test_a_late_report_of_an_earlier_run_changes_nothing(robot, fake_relay, settings):
    """Bug 4: a late or repeated report from an earlier run ended the run in progress and
    rewound last_run_time."""
    settings.RPA_CLOCK_SKEW_SECONDS = 300
    services.start_job(task=robot, source=JobSource.API)
    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")
    robot.refresh_from_db()
    last_run, account_status = robot.last_run_time, robot.account.status

    log, created = report(timezone.now() - timedelta(hours=2), status="failed")

    assert created and ExecutionLog.objects.filter(pk=log.pk).exists()  # kept as history
    robot.refresh_from_db()
    robot.account.refresh_from_db()
    job = Job.objects.get(task=robot)
    assert (job.status, robot.status, robot.last_run_time, robot.account.status) == (
        "running", "running", last_run, account_status,
    )


def test_execution_id_equal_to_a_job_id_attaches_to_that_job(robot, make_job):
    old = make_job(robot, JobStatus.RUNNING, started_at=timezone.now() - timedelta(hours=3),
                   created_at=timezone.now() - timedelta(hours=3))
    log, _ = report(timezone.now() - timedelta(hours=3), execution_id=str(old.pk))
    old.refresh_from_db()
    assert (old.status, old.execution_log_id) == ("completed", log.pk)


def test_a_manual_robot_start_creates_a_robot_job(robot):
    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")
    job = Job.objects.get(task=robot)
    assert (job.source, job.status) == (JobSource.ROBOT, JobStatus.RUNNING)
    report(timezone.now())
    job.refresh_from_db()
    assert job.status == "completed"


def test_a_report_with_no_job_at_all_is_history_as_a_robot_job(robot):
    log, _ = report(timezone.now() - timedelta(minutes=5), status="failed")
    job = Job.objects.get(task=robot)
    assert (job.source, job.status, job.reason, job.execution_log_id) == ("robot", "failed", "robot_reported_failure", log.pk)
    robot.account.refresh_from_db()
    assert robot.account.status == "failed"


def test_a_report_never_rewinds_last_run_time(robot):
    now = timezone.now()
    report(now)
    report(now - timedelta(days=1))
    robot.refresh_from_db()
    assert robot.last_run_time == now
