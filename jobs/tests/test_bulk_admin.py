"""Admin bulk stops and run timeouts never wait on the relay (issue 14): the job moves in the
request (or the sweep), its stop goes to the outbox, and the dispatcher sends each stop once, in
its pool, outside any transaction."""

from __future__ import annotations

import time

import pytest

from jobs import outbox, queue, services, timeouts
from jobs.models import Job, JobReason, JobSource, JobStatus
from rpa_workbench.testing.threads import run_together
from tasks.models import ControlOutcome, ControlRequest, TaskStatus

TASKS_URL = "/admin/tasks/task/"


def running_tasks(make_account, make_task, make_job, count: int) -> list:
    """`count` tasks, each running a job on its own robot."""
    tasks = []
    for _ in range(count):
        task = make_task(make_account(status="running"), status=TaskStatus.RUNNING)
        make_job(task, JobStatus.RUNNING, started_at=task.created_at)
        tasks.append(task)
    return tasks


@pytest.mark.django_db(transaction=True)
def test_an_admin_stop_of_50_running_tasks_returns_at_once_while_the_relay_hangs(
    operator, own_pool, fake_relay, settings, make_account, make_task, make_job
):
    """50 × a 1 s relay timeout would hold the request nearly a minute if it sent the stops itself."""
    settings.RPA_RELAY_TIMEOUT = 1.0
    fake_relay.delay = 3  # the relay hangs past the timeout
    tasks = running_tasks(make_account, make_task, make_job, 50)

    began = time.monotonic()
    response = operator.post(
        TASKS_URL, {"action": "stop_selected", "index": "0", "_selected_action": [str(t.pk) for t in tasks]}
    )
    elapsed = time.monotonic() - began

    assert response.status_code == 302
    assert elapsed < 6, f"the admin stop took {elapsed:.1f} s"
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.STOPPING}
    own_pool.drain()  # let the dispatcher's pool finish its sends
    stops = ControlRequest.objects.filter(action="stop")
    assert stops.count() == 50
    assert set(stops.values_list("outcome", flat=True)) == {ControlOutcome.FAILED}  # read timeouts, recorded
    fake_relay.wait_for_requests(50, timeout=10)  # a timed-out request may still be on its way in
    sent_to = [q["tak"] for q in fake_relay.queries]
    assert sorted(sent_to) == sorted(t.app_name for t in tasks)  # each stop exactly once
    assert outbox.send_pending() == []  # nothing left for another dispatcher to send


@pytest.mark.django_db(transaction=True)
def test_several_dispatchers_never_send_one_stop_twice(fake_relay, make_account, make_task, make_job):
    tasks = running_tasks(make_account, make_task, make_job, 20)
    for job in Job.objects.all():
        services.stop_job(job=job, source="admin", deferred=True)
    assert fake_relay.requests == []

    claimed = run_together([outbox.send_pending] * 4)

    assert sum(len(ids) for ids in claimed) == 20
    assert sorted(q["tak"] for q in fake_relay.queries) == sorted(t.app_name for t in tasks)


def test_a_force_stop_from_the_admin_frees_the_robot_only_after_its_stop_went_out(
    make_account, make_task, make_job, fake_relay
):
    """The relay's stop is target=ALL: a START sent before it would be ended by it."""
    account = make_account(status="running")
    running = make_task(account, status=TaskStatus.RUNNING)
    job = make_job(running, JobStatus.RUNNING, started_at=running.created_at)
    waiting = make_job(make_task(account))

    services.stop_job(job=job, source="admin", force=True, deferred=True)
    job.refresh_from_db()
    assert (job.status, job.reason) == (JobStatus.STOPPED, JobReason.FORCE_STOPPED)
    assert queue.claim(account.pk, now=job.finished_at) == []  # the stop is still in the outbox

    outbox.send_pending()
    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    assert [claimed.pk for claimed in queue.claim(account.pk, now=job.finished_at)] == [waiting.pk]


def test_a_queued_stop_of_a_job_that_ended_meanwhile_is_not_sent(make_task, make_job, fake_relay):
    task = make_task(status=TaskStatus.RUNNING)
    job = make_job(task, JobStatus.RUNNING, started_at=task.created_at)
    _, request = services.stop_job(job=job, source="admin", deferred=True)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)  # the robot's report came first

    outbox.send_pending()

    request.refresh_from_db()
    assert (request.outcome, fake_relay.requests) == (ControlOutcome.SKIPPED, [])


def test_run_timeouts_with_a_hanging_relay_do_not_block_the_sweep(make_account, make_task, make_job, clock, fake_relay):
    fake_relay.delay = 30  # would hold the sweep for minutes if it sent the stops itself
    jobs = []
    for task in [make_task(make_account(status="running"), status=TaskStatus.RUNNING) for _ in range(5)]:
        jobs.append(make_job(task, JobStatus.RUNNING, started_at=clock.now, run_timeout_seconds=60))

    began = time.monotonic()
    timed_out = timeouts.sweep(now=clock.advance(seconds=61))
    assert time.monotonic() - began < 2

    assert sorted(timed_out) == sorted(str(job.pk) for job in jobs)
    assert fake_relay.requests == []
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.STOPPING}  # robots still busy
    assert ControlRequest.objects.filter(outcome=ControlOutcome.QUEUED, source="watchdog").count() == 5

    fake_relay.delay = 0
    outbox.send_pending()  # the dispatcher's pass
    assert len(fake_relay.requests) == 5
    assert set(Job.objects.values_list("status", "reason")) == {(JobStatus.FAILED, JobReason.RUN_TIMEOUT)}


def test_the_api_stop_still_sends_inline_and_answers_502_when_the_relay_fails(make_task, make_job, fake_relay):
    from rpa_workbench.errors import ApiError

    task = make_task(status=TaskStatus.RUNNING)
    job = make_job(task, JobStatus.RUNNING, started_at=task.created_at, source=JobSource.API)
    fake_relay.status = 500
    with pytest.raises(ApiError) as caught:
        services.stop_job(job=job, source="api")
    assert caught.value.error_code == "CONTROL_REQUEST_FAILED"
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # nothing changed
