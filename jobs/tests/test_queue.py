"""Each robot's queue (API.md §9): at most max_concurrent_jobs busy, the rest queued by priority
then age, queue_position derived; the limit holds under real concurrent starts."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import dispatcher, queue, services
from jobs.models import BUSY, Job, JobSource, JobStatus
from rpa_workbench.errors import ApiError
from rpa_workbench.testing.threads import run_together
from tasks.models import Task

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
    from jobs.task_control import control_response

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
def test_the_robot_limit_holds_under_concurrent_starts(make_account, make_task, fake_relay, own_pool):
    """Ten threads start ten tasks of one robot at the same instant: one START goes out. (A
    START claimed for another start's job goes through the dispatcher's pool: drained before
    counting, so a send still in flight is counted, and a second one would be too.)"""
    fake_relay.delay = 0.05
    account = make_account()
    tasks = [make_task(account) for _ in range(10)]

    results = run_together([lambda t=t: services.start_job(task=t, source=JobSource.API) for t in tasks])
    own_pool.drain()

    assert Job.objects.filter(account=account, status__in=BUSY).count() == 1
    assert Job.objects.filter(account=account, status=JobStatus.QUEUED).count() == 9
    assert len(fake_relay.requests) == 1
    assert sum(r.request is not None for r in results) <= 1  # sent in a request, or by the pool
    queued = Job.objects.filter(account=account, status=JobStatus.QUEUED)
    assert sorted(queue.position(job) for job in queued) == list(range(1, 10))


def test_a_start_that_queues_behind_a_busy_robot_writes_nothing_on_its_task(make_account, make_task, fake_relay):
    account = make_account()
    busy, waiting = make_task(account), make_task(account)
    services.start_job(task=busy, source=JobSource.API)
    before = Task.objects.get(pk=waiting.pk).updated_at

    started = services.start_job(task=waiting, source=JobSource.API)

    assert started.job.status == JobStatus.QUEUED
    assert Task.objects.get(pk=waiting.pk).updated_at == before  # pending before and after


def test_with_no_inline_slot_a_start_on_a_free_robot_is_left_to_the_dispatcher(make_task, fake_relay, settings):
    settings.RPA_INLINE_STARTS = 0
    task = make_task()

    started = services.start_job(task=task, source=JobSource.API)

    assert (started.job.status, started.request, fake_relay.requests) == (JobStatus.QUEUED, None, [])
    from jobs.task_control import control_response

    message = control_response(task, started.job)["message"]
    assert message == f"queued: the dispatcher sends it to robot {task.account.shadow_bot_account} (position 1)"
    assert dispatcher.run_once().sent == [str(started.job.pk)]
    assert [q["tak"] for q in fake_relay.queries] == [task.app_name]


@pytest.mark.django_db(transaction=True)
def test_a_slow_relay_holds_at_most_the_inline_slots(make_account, make_task, fake_relay, settings, own_pool):
    """While the one inline slot waits on a slow relay, a start on another free robot answers at
    once (queued) instead of taking a second request thread; the dispatcher sends it."""
    settings.RPA_INLINE_STARTS = 1
    fake_relay.delay = 1.0
    first, second = make_task(make_account()), make_task(make_account())
    holder = threading.Thread(target=lambda: services.start_job(task=first, source=JobSource.API))
    holder.start()
    assert fake_relay.wait_for_requests(1, timeout=10) == 1  # the first START is at the relay, holding the slot

    began = time.monotonic()
    started = services.start_job(task=second, source=JobSource.API)
    answered = time.monotonic() - began
    holder.join(10)

    assert (started.job.status, started.request) == (JobStatus.QUEUED, None)
    assert answered < fake_relay.delay
    assert dispatcher.dispatch_pending(wait_for_sends=True).sent == [str(started.job.pk)]
    assert sorted(q["tak"] for q in fake_relay.queries) == sorted([first.app_name, second.app_name])


def test_one_pass_claims_every_free_robot_one_job_each_in_queue_order(make_account, make_task, make_job):
    now = timezone.now()
    robots = [make_account() for _ in range(3)]
    expected = []
    for robot in robots:
        make_job(make_task(robot), priority="low", created_at=now - timedelta(minutes=9))
        expected.append(make_job(make_task(robot), priority="high", created_at=now - timedelta(minutes=1)).pk)
        make_job(make_task(robot), priority="high", created_at=now)
    busy = make_account()
    make_job(make_task(busy), JobStatus.RUNNING)
    make_job(make_task(busy))
    wide = make_account(max_concurrent_jobs=2, dispatch_backend="yingdao")  # two slots: its next two
    expected += [make_job(make_task(wide), created_at=now - timedelta(minutes=m)).pk for m in (3, 2)]
    make_job(make_task(wide), created_at=now)

    claimed = queue.claim_many([robot.pk for robot in [*robots, busy, wide]], now=now)

    assert sorted(job.pk for job in claimed) == sorted(expected)
    for robot in [*robots, busy]:
        assert Job.objects.filter(account=robot, status__in=BUSY).count() == 1
    assert Job.objects.filter(account=wide, status__in=BUSY).count() == 2
    assert queue.claim_many([robot.pk for robot in [*robots, wide]], now=now) == []  # every slot is taken


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_admit_two(make_account, make_task, make_job):
    account = make_account()
    for _ in range(6):
        make_job(make_task(account))
    now = timezone.now()
    claimed = run_together([lambda: queue.claim(account.pk, now=now, skip_locked=False)] * 6)
    assert sum(len(c) for c in claimed) == 1


def test_a_claim_stamps_the_dispatch_when_it_happens_not_when_its_pass_began(make_account, make_task, make_job):
    """A dispatcher pass (or a start) takes `now` before it waits for a robot's lock, which
    another transaction may hold while it ends the robot's previous job; the dispatch is stamped
    after the lock, so the robot's busy times never seem to overlap (issue 26: a pool test on
    PostgreSQL under CI load saw two jobs 1 s 'beside' each other on one robot)."""
    account = make_account()
    job = make_job(make_task(account), created_at=timezone.now() - timedelta(minutes=5))
    pass_began = timezone.now() - timedelta(seconds=30)
    before_claim = timezone.now()

    [claimed] = queue.claim_many([account.pk], now=pass_began)

    assert claimed.pk == job.pk
    job.refresh_from_db()
    assert job.status == JobStatus.DISPATCHED and job.dispatched_at >= before_claim
