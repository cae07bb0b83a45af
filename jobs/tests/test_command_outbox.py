"""The command outbox (jobs/outbox.py): every START and stop is a row written with its transition,
sent by one sender per robot that re-reads the job under its lease; a robot never has two
commands in flight and never gets a START while a stop before it is unsent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import dispatcher, outbox, queue, services, timeouts, wakeup
from jobs.models import Job, JobReason, JobSource, JobStatus
from tasks.models import ControlAction, ControlOutcome, ControlRequest, TaskStatus

pytestmark = pytest.mark.django_db


def _busy_robot(make_account, make_task, make_job):
    """A relay robot running job A of one task, with job B of another task queued behind it."""
    account = make_account(status="running")
    running = make_task(account, app_name="old_app", status=TaskStatus.RUNNING)
    job_a = make_job(running, JobStatus.RUNNING, started_at=timezone.now() - timedelta(minutes=1))
    job_b = make_job(make_task(account, app_name="next_app"))
    return account, job_a, job_b


def test_bug2_a_job_force_stopped_after_its_claim_never_gets_its_start(make_account, make_task, make_job, fake_relay, monkeypatch):
    """Claim → force stop → send: the sender re-reads the job under its lease and skips the START."""
    account = make_account()
    job = make_job(make_task(account, app_name="app_a"))
    claim_many = queue.claim_many

    def claim_then_force_stop(*args, **kwargs):
        claimed = claim_many(*args, **kwargs)
        for claimed_job in claimed:  # an operator's force stop lands between the claim and the send
            services.stop_job(job=Job.objects.get(pk=claimed_job.pk), source="admin", force=True, deferred=True)
        return claimed

    monkeypatch.setattr(queue, "claim_many", claim_then_force_stop)
    dispatcher.run_once(sweep=False)
    dispatcher.run_once(sweep=False)

    job.refresh_from_db()
    assert (job.status, job.reason) == (JobStatus.STOPPED, JobReason.FORCE_STOPPED)
    assert [q["target"] for q in fake_relay.queries] == ["ALL"]  # never START
    start = ControlRequest.objects.get(job=job, action=ControlAction.START)
    assert start.outcome == ControlOutcome.SKIPPED


@pytest.mark.django_db(transaction=True)
def test_bug3_a_force_stop_goes_out_before_the_robots_next_start(make_account, make_task, make_job, fake_relay, monkeypatch):
    """The force stop frees the slot and wakes the dispatcher at commit; a pass right then must
    not send the next START before the stop (`target=ALL` would end that new run)."""
    _, job_a, job_b = _busy_robot(make_account, make_task, make_job)
    monkeypatch.setattr(wakeup, "kick", lambda: dispatcher.dispatch_pending())  # a pass at once

    services.stop_job(job=job_a, source="api", force=True)
    dispatcher.run_once(sweep=False)

    assert [(q["tak"], q["target"]) for q in fake_relay.queries] == [("old_app", "ALL"), ("next_app", "START")]
    job_b.refresh_from_db()
    assert job_b.status == JobStatus.DISPATCHED


@pytest.mark.django_db(transaction=True)
def test_bug4_a_stop_queued_long_ago_and_being_sent_now_still_blocks_the_next_start(
    make_account, make_task, make_job, fake_relay
):
    """Behind a slow relay: the stop waited in the outbox for ten minutes, is being sent now; the
    robot's next job must not be claimed (nor its START sent) until the stop's outcome is known."""
    account, job_a, job_b = _busy_robot(make_account, make_task, make_job)
    services.stop_job(job=job_a, source="admin", force=True, deferred=True)
    ControlRequest.objects.filter(job=job_a).update(created_at=timezone.now() - timedelta(minutes=10))
    fake_relay.delay = 1.0
    sender = threading.Thread(target=outbox.send_pending)
    sender.start()
    assert fake_relay.wait_for_requests(1, timeout=10) == 1  # the stop is at the (slow) relay

    claimed_meanwhile = queue.claim(account.pk, now=timezone.now())
    sender.join(10)

    assert claimed_meanwhile == []
    assert [claimed.pk for claimed in queue.claim(account.pk, now=timezone.now())] == [job_b.pk]


def test_bug8_a_job_claimed_but_never_sent_is_sent_not_failed(make_account, make_task, make_job, settings, fake_relay):
    """The server died between the claim and the send: no START left, so the robot did not ignore
    it. The job is not failed never_confirmed; its START (still in the outbox) is sent by the next
    pass, and the confirm window counts from that send."""
    settings.RPA_START_CONFIRM_SECONDS = 120
    account = make_account()
    crashed = make_job(make_task(account))
    now = timezone.now()
    [claimed] = queue.claim(account.pk, now=now)  # ... and the process died before sending
    assert claimed.pk == crashed.pk

    assert timeouts.never_confirmed(now + timedelta(seconds=600)) == []
    crashed.refresh_from_db()
    assert crashed.status == JobStatus.DISPATCHED and fake_relay.requests == []

    dispatcher.run_once(sweep=False)  # any dispatcher's next pass
    assert [q["target"] for q in fake_relay.queries] == ["START"]
    sent_at = ControlRequest.objects.get(job=crashed, action=ControlAction.START).sent_at
    assert timeouts.never_confirmed(sent_at + timedelta(seconds=119)) == []
    assert timeouts.never_confirmed(sent_at + timedelta(seconds=121)) == [str(crashed.pk)]


def test_a_robot_never_has_two_commands_in_flight(make_account, make_task, make_job, fake_relay):
    account = make_account(max_concurrent_jobs=2, dispatch_backend="relay")
    first, second = (make_job(make_task(account)) for _ in range(2))
    queue.claim(account.pk, now=timezone.now())  # two STARTs in the robot's outbox

    leased = outbox.lease_next(account.pk)
    assert leased is not None and leased.job_id == first.pk
    assert outbox.lease_next(account.pk) is None  # in flight: nobody else leases the second
    outbox.send_one(leased)
    assert outbox.lease_next(account.pk).job_id == second.pk


def test_stops_leave_before_starts_and_a_dead_senders_lease_expires(make_account, make_task, make_job, fake_relay, settings):
    account, job_a, job_b = _busy_robot(make_account, make_task, make_job)
    Job.objects.filter(pk=job_b.pk).update(status=JobStatus.DISPATCHED, dispatched_at=timezone.now())
    job_b.refresh_from_db()
    from django.db import transaction

    with transaction.atomic():
        start = outbox.enqueue(job_b, action=ControlAction.START, source="api")
        stop = outbox.enqueue(job_a, action=ControlAction.FORCE_STOP, source="api")
    assert outbox.lease_next(account.pk).pk == stop.pk  # the stop first, although written later

    later = timezone.now() + timedelta(seconds=outbox.lease_seconds() + 1)
    assert outbox.lease_next(account.pk, now=later).pk == start.pk  # its sender died: lease expired
    stop.refresh_from_db()
    assert stop.outcome == ControlOutcome.FAILED and "may have reached" in stop.error


def test_the_api_start_waits_for_its_start_and_answers_as_before(make_task, fake_relay):
    task = make_task()
    started = services.start_job(task=task, source=JobSource.API)
    assert started.request.outcome == ControlOutcome.SENT and started.request.sent_at is not None
    assert [q["target"] for q in fake_relay.queries] == ["START"]
