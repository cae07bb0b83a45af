"""A robot's confirm or report attaches to the command or run it answers, never to whatever job
happens to be current (issue 22, bugs 5 and 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import reports, services, transitions
from jobs.models import Job, JobReason, JobSource, JobStatus
from jobs.reports import record_execution
from tasks.models import TaskStatus

pytestmark = pytest.mark.django_db


def _report(task, start, status="completed", **extra):
    return record_execution(
        shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, status=status,
        start_time=start, end_time=start + timedelta(seconds=30), host_ip=task.account.host_ip, **extra,
    )


def _running(make_task, make_job, **task_fields):
    task = make_task(status=TaskStatus.RUNNING, **task_fields)
    started = timezone.now() - timedelta(seconds=60)
    job = make_job(task, JobStatus.RUNNING, started_at=started, dispatched_at=started, created_at=started)
    return task, job


def test_bug5_a_late_report_never_completes_a_retry_that_never_ran(make_task, make_job):
    task, first = _running(make_task, make_job, max_retries=1, retry_delay_seconds=60)
    with transaction.atomic():
        transitions.fail(first, now=timezone.now(), reason=JobReason.LOST_CONTACT, expected=[JobStatus.RUNNING])
    retry = Job.objects.get(retry_of=first)
    assert retry.status == JobStatus.QUEUED

    _report(task, first.started_at)  # the robot's report of the first attempt, late

    retry.refresh_from_db()
    assert (retry.status, retry.dispatched_at) == (JobStatus.QUEUED, None)  # still waiting to run
    first.refresh_from_db()
    assert first.execution_log is not None and first.execution_log.start_time == first.started_at


def test_a_queued_job_cannot_complete_or_fail(make_task, make_job):
    job = make_job(make_task())
    with transaction.atomic(), pytest.raises(ValueError):
        transitions.move(job, JobStatus.COMPLETED, now=timezone.now(), expected=[JobStatus.QUEUED])


def test_bug10_a_late_stop_confirm_never_stops_the_robots_next_job(make_task, make_job, fake_relay):
    task, old = _running(make_task, make_job)
    services.stop_job(job=old, source="api", force=True)  # FORCE_STOP sent; the robot confirms later
    new = services.start_job(task=task, source=JobSource.API).job
    assert new.status == JobStatus.DISPATCHED

    reports.confirm(shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, action="STOP")

    new.refresh_from_db()
    assert new.status == JobStatus.DISPATCHED  # the confirm answered the old job's stop
    reports.confirm(shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, action="START")
    new.refresh_from_db()
    assert new.status == JobStatus.RUNNING


def test_bug10_a_late_report_of_a_force_stopped_run_attaches_to_it_not_to_the_next_job(make_task, make_job, fake_relay):
    task, old = _running(make_task, make_job)
    services.stop_job(job=old, source="api", force=True)
    new = services.start_job(task=task, source=JobSource.API).job

    log, created = _report(task, old.started_at, execution_id="robot-run-17")

    assert created
    new.refresh_from_db()
    assert new.status == JobStatus.DISPATCHED
    old.refresh_from_db()
    assert (old.status, old.execution_log_id) == (JobStatus.STOPPED, log.pk)
    assert not Job.objects.filter(source=JobSource.ROBOT).exists()


def test_bug10_a_late_report_of_a_force_stopped_run_creates_no_robot_job_beside_it(make_task, make_job, fake_relay):
    task, old = _running(make_task, make_job)
    services.stop_job(job=old, source="api", force=True)

    log, _ = _report(task, old.started_at + timedelta(seconds=1))

    assert not Job.objects.filter(source=JobSource.ROBOT).exists()  # no second busy interval
    old.refresh_from_db()
    assert old.execution_log_id == log.pk


def test_bug10_a_start_confirm_for_a_job_force_stopped_after_its_start_creates_no_job(make_task, fake_relay):
    task = make_task()
    job = services.start_job(task=task, source=JobSource.API).job
    services.stop_job(job=job, source="api", force=True)

    reports.confirm(shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, action="START")

    assert list(Job.objects.values_list("status", flat=True)) == [JobStatus.STOPPED]


def test_a_run_the_robot_started_itself_is_still_recorded(make_task):
    task = make_task()
    reports.confirm(shadow_bot_account=task.account.shadow_bot_account, app_name=task.app_name, action="START")
    [job] = Job.objects.all()
    assert (job.source, job.status) == (JobSource.ROBOT, JobStatus.RUNNING)


def test_suspect_the_watchdogs_log_never_takes_a_real_reports_key(make_task, make_job, settings):
    """Disproved as such, but it showed the lost run's late report becoming a second robot job:
    the watchdog's log starts at the run's own start (our clock), and the robot's real report of
    that run is stored (not answered as a repeat) and attached to the lost job."""
    from jobs import timeouts

    task, job = _running(make_task, make_job)
    transitions_now = timezone.now() + timedelta(seconds=settings.RPA_HEARTBEAT_TIMEOUT + 5)
    assert timeouts.check_lost(now=transitions_now, timeout=settings.RPA_HEARTBEAT_TIMEOUT) == [str(task.pk)]
    job.refresh_from_db()
    synthetic = job.execution_log

    real, created = _report(task, job.started_at.replace(microsecond=0), status="failed")

    assert created and real.pk != synthetic.pk
    job.refresh_from_db()
    assert job.execution_log_id == real.pk
    assert not Job.objects.filter(source=JobSource.ROBOT).exists()


def _plan(task, start) -> str:
    """How the database reads a report's candidate jobs (EXPLAIN of the matching statement)."""
    from django.db import connection

    sql, params = reports._active_and_ended_statement(task, start)
    with connection.cursor() as cursor:
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        return "\n".join(" ".join(str(value) for value in row) for row in cursor.fetchall())


def _history(task, count: int) -> None:
    """`count` ended runs of `task`, a minute apart, the newest an hour ago."""
    import uuid

    now = timezone.now()
    Job.objects.bulk_create([
        Job(
            id=uuid.uuid4(), task=task, account=task.account, task_name=task.task_name, app_name=task.app_name,
            status=JobStatus.COMPLETED, source=JobSource.ROBOT, run_timeout_seconds=60, wait_timeout_seconds=60,
            created_at=now - timedelta(minutes=61 + index),
            started_at=now - timedelta(minutes=61 + index), finished_at=now - timedelta(minutes=60 + index),
        )
        for index in range(count)
    ])


def test_a_report_reads_the_tasks_active_and_recently_ended_jobs_by_index_not_its_history(make_task, make_job):
    """A task's history grows by a job per run; matching a report reads two index ranges (the
    task's active jobs, its jobs ended since the report's start), never every job of the task
    (8.3 ms per report at 20,000 jobs before, 0.2 ms after: bench/report_matching.py)."""
    from django.db import connection

    task, _ = _running(make_task, make_job)
    _history(task, 3000)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Job._meta.db_table}")
        plan = _plan(task, timezone.now())
    # The ended runs through the task's index on finish time; the active jobs through any index
    # (PostgreSQL may pick the status index: active jobs are few, whatever the history).
    by_finish_time = [
        line for line in plan.splitlines()
        if "finished_at>" in line.replace(" ", "") and ("job_task_finished" in line or "Index Cond" in line)
    ]
    assert "job_task_finished" in plan and by_finish_time, plan  # an index range on finish time, not the whole task
    assert "SCAN jobs_job" not in plan and "Seq Scan" not in plan, plan
