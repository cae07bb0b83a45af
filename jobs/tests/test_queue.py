"""Each robot's queue (API.md §9): at most max_concurrent_jobs busy, the rest queued by priority
then age, queue_position derived; the limit holds under real concurrent starts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import queue, services
from jobs.models import BUSY, Job, JobSource, JobStatus
from rpa_workbench.errors import ApiError
from rpa_workbench.testing.threads import run_together

pytestmark = pytest.mark.django_db


def test_queued_jobs_go_by_priority_then_age(make_account, make_task, make_job):
    account = make_account()
    now = timezone.now()
    old_low = make_job(make_task(account), priority="low", created_at=now - timedelta(minutes=9))
    new_normal = make_job(make_task(account), priority="normal", created_at=now - timedelta(minutes=1))
    old_normal = make_job(make_task(account), priority="normal", created_at=now - timedelta(minutes=5))
    high = make_job(make_task(account), priority="high", created_at=now)

    jobs = [old_low, new_normal, old_normal, high]
    assert {j.pk: p for j, p in ((j, queue.position(j)) for j in jobs)} == {
        high.pk: 1, old_normal.pk: 2, new_normal.pk: 3, old_low.pk: 4,
    }
    assert queue.positions(jobs) == {high.pk: 1, old_normal.pk: 2, new_normal.pk: 3, old_low.pk: 4}

    [claimed] = queue.claim(account.pk, now=now)
    assert claimed.pk == high.pk
    assert queue.claim(account.pk, now=now) == []  # the one slot is taken
    assert queue.position(old_normal) == 1


def test_a_retry_waits_for_its_not_before(make_account, make_task, make_job):
    account = make_account()
    now = timezone.now()
    later = make_job(make_task(account), not_before=now + timedelta(seconds=60), created_at=now - timedelta(hours=1))
    assert queue.claim(account.pk, now=now) == []
    assert queue.accounts_with_work(now) == []
    assert [job.pk for job in queue.claim(account.pk, now=now + timedelta(seconds=61))] == [later.pk]


def test_max_concurrent_jobs_slots_are_filled(make_account, make_task, make_job):
    account = make_account(max_concurrent_jobs=3, dispatch_backend="yingdao")
    jobs = [make_job(make_task(account)) for _ in range(5)]
    make_job(make_task(account), JobStatus.RUNNING)
    claimed = queue.claim(account.pk, now=timezone.now())
    assert len(claimed) == 2 and {j.pk for j in claimed} <= {j.pk for j in jobs}


def test_a_start_on_a_busy_robot_is_queued_with_its_position(make_account, make_task, fake_relay, operator_user):
    account = make_account(shadow_bot_account="bot_01")
    first, second, third = (make_task(account) for _ in range(3))
    services.start_job(task=first, source=JobSource.API)
    services.start_job(task=second, source=JobSource.API)
    started = services.start_job(task=third, source=JobSource.API, user=operator_user)

    assert (started.job.status, started.position, started.request) == ("queued", 2, None)
    assert len(fake_relay.requests) == 1
    from tasks.services import control_response

    body = control_response(third, started.job)
    assert body["message"] == "queued: robot bot_01 is busy (position 2)"
    assert (body["job_status"], body["status"]) == ("queued", "pending")


def test_one_active_job_per_task(make_task, fake_relay):
    task = make_task()
    services.start_job(task=task, source=JobSource.API)
    with pytest.raises(ApiError) as caught:
        services.start_job(task=task, source=JobSource.API)
    assert caught.value.error_code == "START_PENDING"


@pytest.mark.django_db(transaction=True)
def test_the_robot_limit_holds_under_concurrent_starts(make_account, make_task, fake_relay, settings):
    """Ten threads start ten tasks of one robot at the same instant: one START goes out."""
    settings.RPA_DISPATCHER_THREADS = 2
    fake_relay.delay = 0.05
    account = make_account()
    tasks = [make_task(account) for _ in range(10)]

    results = run_together([lambda t=t: services.start_job(task=t, source=JobSource.API) for t in tasks])

    statuses = sorted(r.job.status for r in results)
    assert statuses.count("dispatched") == 1 and statuses.count("queued") == 9
    assert Job.objects.filter(account=account, status__in=BUSY).count() == 1
    assert len(fake_relay.requests) == 1
    positions = sorted(queue.position(r.job) for r in results if r.job.status == "queued")
    assert positions == list(range(1, 10))


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_admit_two(make_account, make_task, make_job):
    account = make_account()
    for _ in range(6):
        make_job(make_task(account))
    now = timezone.now()
    claimed = run_together([lambda: queue.claim(account.pk, now=now, skip_locked=False)] * 6)
    assert sum(len(c) for c in claimed) == 1
