"""Reports, confirms and heartbeats of a pool task (API.md §12): each attaches to the job the
reporting robot runs for that app, even when several robots run the same app at once, including
robots the task is not bound to. Runs on SQLite and, with DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from jobs import reports, task_control
from jobs.models import Job, JobSource, JobStatus
from pools.models import Pool
from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_task(make_account, make_task):
    """A pool task of robot `owner`, whose pool is `owner` and `member` (up to two jobs at once)."""
    owner, member = make_account(shadow_bot_account="owner"), make_account(shadow_bot_account="member")
    pool = Pool.objects.create(name="Shared")
    pool.accounts.set([owner, member])
    return make_task(owner, app_name="export_orders", pool=pool, max_parallel_jobs=2)


@pytest.fixture
def two_running(shared_task, fake_relay):
    """The shared task, run by `owner` and `member` at once (scope: all)."""
    task = shared_task
    jobs = task_control.start_task(task=task, source="api", scope="all")
    assert {job.status for job in jobs} == {JobStatus.DISPATCHED}
    return task, {job.shadow_bot_account: job for job in jobs}


def robot_of(name: str) -> Account:
    return Account.objects.get(shadow_bot_account=name)


def confirm(name: str, action: str = "START", app: str = "export_orders"):
    robot = robot_of(name)
    return reports.confirm(shadow_bot_account=name, app_name=app, action=action, host_ip=robot.host_ip)


def report(name: str, status: str = "completed", app: str = "export_orders", started=None):
    robot = robot_of(name)
    start = started or timezone.now() - timedelta(seconds=5)
    return reports.record_execution(
        shadow_bot_account=name, app_name=app, status=status, start_time=start,
        end_time=start + timedelta(seconds=3), host_ip=robot.host_ip,
    )


def status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def test_confirms_from_two_robots_running_the_same_app_attach_to_their_own_jobs(two_running):
    task, jobs = two_running
    assert confirm("member") is not None
    assert (status(jobs["member"]), status(jobs["owner"])) == (JobStatus.RUNNING, JobStatus.DISPATCHED)
    confirm("owner")
    assert (status(jobs["member"]), status(jobs["owner"])) == (JobStatus.RUNNING, JobStatus.RUNNING)
    assert robot_of("member").status == "running" and Task.objects.get(pk=task.pk).status == TaskStatus.RUNNING


def test_reports_from_two_robots_running_the_same_app_attach_to_the_right_jobs(two_running):
    task, jobs = two_running
    confirm("member")
    confirm("owner")

    log, created = report("member", "failed")
    assert created and log.task_id == task.pk and log.account_id == robot_of("member").pk
    assert (status(jobs["member"]), status(jobs["owner"])) == (JobStatus.FAILED, JobStatus.RUNNING)
    assert Job.objects.get(pk=jobs["member"].pk).execution_log_id == log.pk
    assert robot_of("member").status == "failed" and robot_of("owner").status == "running"
    assert Task.objects.get(pk=task.pk).status == TaskStatus.RUNNING  # the owner's run goes on

    log, _ = report("owner")
    assert status(jobs["owner"]) == JobStatus.COMPLETED and Job.objects.get(pk=jobs["owner"].pk).execution_log_id == log.pk
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING
    assert not Job.objects.filter(source=JobSource.ROBOT).exists()  # nothing was left unmatched


def test_a_stop_confirm_stops_only_the_confirming_robots_job(two_running):
    task, jobs = two_running
    confirm("member")
    confirm("owner")
    task_control.stop_task(task=task, source="api")  # a stop to both robots
    confirm("owner", "STOP")
    assert (status(jobs["owner"]), status(jobs["member"])) == (JobStatus.STOPPED, JobStatus.STOPPING)
    confirm("member", "STOP")
    assert status(jobs["member"]) == JobStatus.STOPPED


def test_heartbeats_go_to_the_robot_that_sends_them(two_running):
    task, jobs = two_running
    confirm("member")
    before = robot_of("owner").last_heartbeat_at
    account = reports.record_heartbeat(shadow_bot_account="member", app_name="export_orders")
    assert account.pk == robot_of("member").pk and robot_of("member").last_heartbeat_at is not None
    assert robot_of("owner").last_heartbeat_at == before
    assert Task.objects.get(pk=task.pk).last_seen_at is not None


def test_a_run_a_member_started_itself_is_recorded_on_that_member(two_running):
    task, jobs = two_running
    # the member ran the app before, for this pool task
    for name in jobs:
        confirm(name)
        report(name)
    confirm("member")  # started on the member's desktop: no command of ours
    job = Job.objects.get(status=JobStatus.RUNNING)
    assert (job.source, job.account_id, job.task_id) == (JobSource.ROBOT, robot_of("member").pk, task.pk)
    report("member")
    assert status(job) == JobStatus.COMPLETED


def test_lost_contact_is_per_robot_on_a_pool_task(two_running):
    from jobs import timeouts

    task, jobs = two_running
    confirm("member")
    confirm("owner")
    now = timezone.now()
    long_ago = now - timedelta(seconds=300)
    Job.objects.filter(task=task).update(started_at=long_ago)
    Task.objects.filter(pk=task.pk).update(last_seen_at=now)  # the owner keeps the task "seen"
    Account.objects.filter(shadow_bot_account="member").update(last_seen_at=long_ago)
    Account.objects.filter(shadow_bot_account="owner").update(last_seen_at=now)

    assert timeouts.check_lost(now=now, timeout=120) == [str(task.pk)]

    member_job = Job.objects.get(pk=jobs["member"].pk)
    assert (member_job.status, member_job.reason) == (JobStatus.FAILED, "lost_contact")
    assert member_job.execution_log is not None and "member" in member_job.message
    assert status(jobs["owner"]) == JobStatus.RUNNING
    assert timeouts.check_lost(now=now, timeout=120) == []  # once


def test_config_get_answers_the_members_own_job_of_a_pool_task(two_running, robot_client):
    task, jobs = two_running
    member = robot_of("member")
    answer = robot_client.post("/api/v1/resources/config/get",
                               {"shadow_bot_account": "member", "app_name": "export_orders", "host_ip": member.host_ip}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["job_id"] == str(jobs["member"].pk)


def test_a_late_report_of_a_stopped_run_finds_it_beside_the_robots_running_and_queued_jobs(shared_task, make_job):
    """A member runs a job of the pool task and has another queued (a `scope: all` start bound to
    it); the report of its earlier, stopped run arrives late. It belongs to that stopped run: the
    running job goes on (ended by it, the robot would count as free while it still runs)."""
    task, member = shared_task, robot_of("member")
    now = timezone.now()
    on_member = {"account": member, "shadow_bot_account": "member", "host_ip": member.host_ip, "pool": task.pool}

    def job_on_member(status, **fields):
        job = make_job(task, status, **fields)
        Job.objects.filter(pk=job.pk).update(**on_member)
        return job

    stopped = job_on_member(JobStatus.STOPPED, any_robot=True, dispatched_at=now - timedelta(seconds=21),
                            started_at=now - timedelta(seconds=20), finished_at=now - timedelta(seconds=10))
    running = job_on_member(JobStatus.RUNNING, any_robot=True, dispatched_at=now - timedelta(seconds=5),
                            started_at=now - timedelta(seconds=5))
    queued = job_on_member(JobStatus.QUEUED, any_robot=False, created_at=now - timedelta(seconds=3))

    log = report("member", status="failed", started=stopped.started_at)[0]

    assert (status(running), status(queued)) == (JobStatus.RUNNING, JobStatus.QUEUED)
    stopped.refresh_from_db()
    assert (stopped.status, stopped.execution_log_id) == (JobStatus.STOPPED, log.pk)
