"""The claim with robot pools (API.md §12): a free robot takes the next job of its own queue or
of its pools' queues, by priority then age; the robot idle longest first; every robot at most
its max_concurrent_jobs (counting all its jobs); a task at most max_parallel_jobs busy jobs,
each on a different robot; pool jobs' queue positions; `scope: all`. Runs on SQLite and, with
DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import queue, reports, services, task_control
from jobs.models import BUSY, Job, JobSource, JobStatus
from pools.models import Pool
from rpa_workbench.errors import ApiError
from tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def relay(fake_relay):
    return fake_relay


def make_pool(*robots, name="Finance") -> Pool:
    pool = Pool.objects.create(name=name)
    pool.accounts.set(robots)
    return pool


def pool_task(make_task, pool, owner, **fields):
    return make_task(owner, pool=pool, **fields)


def queue_jobs(task, n, **fields):
    return [services.start_job(task=task, source=JobSource.API, inline=False, **fields).job for _ in range(n)]


def busy_by_robot():
    return Counter(Job.objects.filter(status__in=BUSY).values_list("shadow_bot_account", flat=True))


def test_ten_queued_jobs_of_a_pool_task_spread_over_three_free_robots(make_account, make_task):
    robots = [make_account(shadow_bot_account=f"pool_bot_{n}") for n in range(3)]
    pool = make_pool(*robots)
    task = pool_task(make_task, pool, robots[0], max_parallel_jobs=10)
    jobs = queue_jobs(task, 10)
    assert all(job.any_robot and job.pool_id == pool.pk and job.status == "queued" for job in jobs)

    claimed = queue.claim_many([robot.pk for robot in robots], now=timezone.now())

    assert len(claimed) == 3
    assert busy_by_robot() == {"pool_bot_0": 1, "pool_bot_1": 1, "pool_bot_2": 1}
    # the three oldest went, each recording the robot that took it
    assert {job.pk for job in claimed} == {job.pk for job in jobs[:3]}
    for job in Job.objects.filter(status=JobStatus.DISPATCHED):
        robot = next(r for r in robots if r.pk == job.account_id)
        assert (job.shadow_bot_account, job.host_ip) == (robot.shadow_bot_account, robot.host_ip)
    assert queue.claim_many([robot.pk for robot in robots], now=timezone.now()) == []  # every slot taken
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 7


def test_each_robot_runs_at_most_its_max_concurrent_jobs_counting_all_its_jobs(make_account, make_task, make_job):
    big = make_account(shadow_bot_account="big", max_concurrent_jobs=3, dispatch_backend="yingdao")
    small = make_account(shadow_bot_account="small")
    pool = make_pool(big, small)
    make_job(make_task(big), JobStatus.RUNNING)  # big runs one job of its own already
    tasks = [pool_task(make_task, pool, small, max_parallel_jobs=10) for _ in range(2)]
    for task in tasks:
        queue_jobs(task, 5)

    queue.claim_many([big.pk, small.pk], now=timezone.now())

    assert busy_by_robot() == {"big": 3, "small": 1}
    # one task never twice on one robot: big runs its own job plus one of each pool task
    on_big = Job.objects.filter(account=big, status__in=BUSY, task__in=tasks).values_list("task_id", flat=True)
    assert sorted(on_big) == sorted(task.pk for task in tasks)


def test_max_parallel_jobs_is_never_exceeded(make_account, make_task):
    robots = [make_account() for _ in range(4)]
    pool = make_pool(*robots)
    task = pool_task(make_task, pool, robots[0], max_parallel_jobs=2)
    queue_jobs(task, 6)
    ids = [robot.pk for robot in robots]

    queue.claim_many(ids, now=timezone.now())
    assert Job.objects.filter(task=task, status__in=BUSY).count() == 2
    queue.claim_many(ids, now=timezone.now())
    assert Job.objects.filter(task=task, status__in=BUSY).count() == 2
    # one ends: exactly one more goes
    Job.objects.filter(task=task, status=JobStatus.DISPATCHED).order_by("created_at").first()
    first = Job.objects.filter(task=task, status=JobStatus.DISPATCHED).order_by("created_at").first()
    Job.objects.filter(pk=first.pk).update(status=JobStatus.COMPLETED, finished_at=timezone.now())
    assert len(queue.claim_many(ids, now=timezone.now())) == 1
    assert Job.objects.filter(task=task, status__in=BUSY).count() == 2


def test_a_freed_robot_takes_the_oldest_highest_priority_job_of_its_own_queue_or_its_pools(
    make_account, make_task, make_job
):
    robot = make_account(shadow_bot_account="worker")
    pool = make_pool(robot)
    other_pool = make_pool(make_account(), name="Other")
    now = timezone.now()
    own_normal = make_job(make_task(robot), priority="normal", created_at=now - timedelta(minutes=10))
    pooled = pool_task(make_task, pool, robot, max_parallel_jobs=5)
    pool_normal_older = make_job(pooled, priority="normal", created_at=now - timedelta(minutes=20), any_robot=True)
    pool_high = make_job(pooled, priority="high", created_at=now - timedelta(minutes=1), any_robot=True)
    foreign = pool_task(make_task, other_pool, other_pool.accounts.get(), max_parallel_jobs=5)
    make_job(foreign, priority="high", created_at=now - timedelta(hours=1), any_robot=True)  # not its pool

    order = []
    for _ in range(3):
        [taken] = queue.claim(robot.pk, now=now)
        order.append(taken.pk)
        Job.objects.filter(pk=taken.pk).update(status=JobStatus.COMPLETED, finished_at=now)
    assert order == [pool_high.pk, pool_normal_older.pk, own_normal.pk]
    assert queue.claim(robot.pk, now=now) == []


def test_among_free_robots_the_one_idle_longest_takes_the_job(make_account, make_task, make_job):
    recent, longest, never_idle_since = (make_account(shadow_bot_account=name) for name in ("recent", "longest", "busy_once"))
    pool = make_pool(recent, longest)
    now = timezone.now()
    for robot, ago in ((recent, 1), (longest, 30)):
        make_job(make_task(robot), JobStatus.COMPLETED, dispatched_at=now - timedelta(minutes=ago), finished_at=now)
    task = pool_task(make_task, pool, recent)
    [job] = queue_jobs(task, 1)
    [claimed] = queue.claim_many([recent.pk, longest.pk], now=now)
    assert (claimed.pk, claimed.shadow_bot_account) == (job.pk, "longest")
    assert never_idle_since.pk not in {claimed.account_id}


def test_pool_jobs_have_their_place_in_the_pools_queue(make_account, make_task, make_job):
    owner = make_account()
    pool = make_pool(owner)
    task = pool_task(make_task, pool, owner, max_parallel_jobs=3)
    now = timezone.now()
    low = make_job(task, priority="low", created_at=now - timedelta(minutes=9), any_robot=True)
    normal = make_job(task, priority="normal", created_at=now - timedelta(minutes=1), any_robot=True)
    high = make_job(task, priority="high", created_at=now, any_robot=True)
    own = make_job(make_task(owner), created_at=now - timedelta(hours=1))  # the robot's own queue
    jobs = [low, normal, high, own]
    assert queue.positions(jobs) == {high.pk: 1, normal.pk: 2, low.pk: 3, own.pk: 1}
    assert [queue.position(job) for job in jobs] == [3, 2, 1, 1]


def test_a_pool_start_goes_to_a_free_member_when_the_tasks_own_robot_is_busy(make_account, make_task, make_job, fake_relay):
    owner, spare = make_account(shadow_bot_account="owner"), make_account(shadow_bot_account="spare")
    make_job(make_task(owner), JobStatus.RUNNING)
    task = pool_task(make_task, make_pool(owner, spare), owner)
    started = services.start_job(task=task, source=JobSource.API)
    assert started.request is not None and started.request.outcome == "sent"
    job = Job.objects.get(pk=started.job.pk)
    assert (job.status, job.shadow_bot_account, job.account_id) == (JobStatus.DISPATCHED, "spare", spare.pk)
    [sent] = fake_relay.requests
    assert sent.query["backend_ip"] == spare.host_ip


def test_a_pool_task_queues_every_start_and_the_answer_names_the_pool(make_account, make_task, fake_relay):
    owner = make_account()
    task = pool_task(make_task, make_pool(owner), owner)
    services.start_job(task=task, source=JobSource.API)
    second = services.start_job(task=task, source=JobSource.API).job  # not START_PENDING: one more job
    assert second.status == JobStatus.QUEUED
    body = task_control.control_response(task, second)
    assert body["message"] == "queued: waiting for a free robot of pool Finance (position 1)"


def test_scope_all_starts_one_job_per_robot_of_the_pool(make_account, make_task, fake_relay):
    robots = [make_account(shadow_bot_account=f"all_{n}") for n in range(3)]
    task = pool_task(make_task, make_pool(*robots), robots[0], max_parallel_jobs=3)
    jobs = task_control.start_task(task=task, source="api", scope="all")
    assert sorted(job.shadow_bot_account for job in jobs) == ["all_0", "all_1", "all_2"]
    assert all(not job.any_robot for job in jobs)
    assert Job.objects.filter(task=task, status=JobStatus.DISPATCHED).count() == 3
    # a second `all` while each robot has its job: nothing to add
    with pytest.raises(ApiError) as caught:
        task_control.start_task(task=task, source="api", scope="all")
    assert caught.value.error_code == "START_PENDING"


def test_scope_all_through_the_api_and_on_a_task_without_pool(operator_client, make_account, make_task, fake_relay):
    robots = [make_account() for _ in range(2)]
    task = pool_task(make_task, make_pool(*robots), robots[0], max_parallel_jobs=1)
    answer = operator_client.post(f"/api/v1/tasks/{task.pk}/start", {"scope": "all"}, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert len(body["jobs"]) == 2 and body["job_id"] == body["jobs"][0]["job_id"]
    # max_parallel_jobs 1: one runs, the other waits on its robot
    assert sorted(job["job_status"] for job in body["jobs"]) == ["dispatched", "queued"]
    plain = make_task(make_account())
    answer = operator_client.post(f"/api/v1/tasks/{plain.pk}/start", {"scope": "all"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    answer = operator_client.post(f"/api/v1/tasks/{plain.pk}/start", {"scope": "some"}, format="json")
    assert answer.status_code == 400 and answer.json()["message"].startswith("scope")


def test_a_pool_tasks_stop_through_the_api_names_every_job_it_stopped(operator_client, make_account, make_task, fake_relay):
    robots = [make_account() for _ in range(2)]
    task = pool_task(make_task, make_pool(*robots), robots[0], max_parallel_jobs=2)
    jobs = task_control.start_task(task=task, source="api", scope="all")
    answer = operator_client.post(f"/api/v1/tasks/{task.pk}/stop")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert sorted(item["job_id"] for item in body["jobs"]) == sorted(str(job.pk) for job in jobs)
    assert {item["job_status"] for item in body["jobs"]} == {"stopping"}
    assert body["message"] == "stop requested for 2 jobs of the pool task on 2 robots"


def test_stopping_a_pool_task_stops_its_jobs_on_every_robot(make_account, make_task, fake_relay):
    robots = [make_account() for _ in range(2)]
    task = pool_task(make_task, make_pool(*robots), robots[0], max_parallel_jobs=2)
    task_control.start_task(task=task, source="api", scope="all")
    queued = services.start_job(task=task, source=JobSource.API).job
    task_control.force_stop_task(task=task, source="api")
    statuses = Counter(Job.objects.filter(task=task).values_list("status", flat=True))
    assert statuses == {"stopped": 2, "cancelled": 1} and Job.objects.get(pk=queued.pk).status == "cancelled"


def test_a_schedule_never_piles_up_a_pool_tasks_backlog(make_account, make_task):
    from tasks.models import ControlRequest

    owner = make_account()
    task = pool_task(make_task, make_pool(owner), owner, max_parallel_jobs=2)
    for _ in range(2):
        services.start_job(task=task, source=JobSource.SCHEDULER, inline=False)
    with pytest.raises(ApiError) as caught:
        services.start_job(task=task, source=JobSource.SCHEDULER, inline=False)
    assert caught.value.error_code == "START_PENDING"
    assert ControlRequest.objects.filter(task=task, outcome="skipped").count() == 1
    services.start_job(task=task, source=JobSource.API, inline=False)  # a person's start still adds one
    assert Job.objects.filter(task=task, status=JobStatus.QUEUED).count() == 3


@pytest.mark.django_db(transaction=True)
def test_dispatchers_claiming_at_once_never_take_one_job_twice_nor_exceed_max_parallel_jobs(make_account, make_task):
    """Four dispatcher claims at the same instant, over overlapping sets of one pool's robots (as
    dispatchers in several processes see them), round after round: on PostgreSQL with SKIP LOCKED,
    on SQLite serialized."""
    from django.db import transaction

    from jobs import transitions
    from rpa_workbench.testing.threads import run_together
    from tasks.models import ControlRequest

    robots = [make_account(max_concurrent_jobs=2, dispatch_backend="yingdao") for _ in range(8)]
    pool = make_pool(*robots)
    tasks = [pool_task(make_task, pool, robots[n], max_parallel_jobs=3) for n in range(3)]
    for task in tasks:
        for _ in range(8):
            transaction.atomic()(lambda t=task: transitions.create(task=t, source="api", now=timezone.now()))()
    ids = [robot.pk for robot in robots]
    subsets = [ids[:5], ids[3:], ids[::2], ids[1::2]]
    for _ in range(12):
        run_together([lambda s=s: queue.claim_many(s, now=timezone.now(), skip_locked=True) for s in subsets])
        busy = Job.objects.filter(status__in=BUSY)
        for task in tasks:
            running = list(busy.filter(task=task).values_list("account_id", flat=True))
            assert len(running) <= 3 and len(set(running)) == len(running)
        for robot in robots:
            assert busy.filter(account=robot).count() <= 2
        for job in busy.select_related("task", "account"):
            with transaction.atomic():
                transitions.move(job, JobStatus.COMPLETED, now=timezone.now(), expected=[JobStatus.DISPATCHED])
    starts = ControlRequest.objects.filter(action="start").values_list("job_id", flat=True)
    assert len(starts) == len(set(starts)) == 24  # every job claimed, each once


@pytest.mark.parametrize("confirmed", [True, False], ids=["one-running", "none-running"])
def test_a_retry_of_a_pool_job_adds_one_job_and_leaves_the_tasks_other_jobs_alone(confirmed, make_account, make_task, settings):
    """A pool task runs several jobs at once: retrying one of its jobs is one more job, as a start
    is. It never ends another job of the task that is dispatched and not confirmed yet (that
    robot may be running it: ended, the robot would count as free for another app), nor is it
    refused because another job of the task runs."""
    robots = [make_account(shadow_bot_account=f"pool_bot_{n}") for n in range(3)]
    task = pool_task(make_task, make_pool(*robots), robots[0], max_parallel_jobs=3)
    unconfirmed, running, ended = task_control.start_task(task=task, source="api", scope="all")
    if confirmed:
        reports.confirm(shadow_bot_account="pool_bot_1", app_name=task.app_name, action="START", host_ip=robots[1].host_ip)
    Job.objects.filter(pk=ended.pk).update(status=JobStatus.FAILED, finished_at=timezone.now())
    # the unconfirmed START left longer ago than a plain task's start stays pending
    long_ago = timezone.now() - timedelta(seconds=settings.RPA_START_PENDING_SECONDS + 5)
    Job.objects.filter(pk=unconfirmed.pk).update(dispatched_at=long_ago)
    Task.objects.filter(pk=task.pk).update(start_requested_at=long_ago)

    retry = services.retry_job(job=Job.objects.get(pk=ended.pk))

    assert (retry.status, retry.retry_of_id, retry.any_robot) == (JobStatus.QUEUED, ended.pk, True)
    assert Job.objects.get(pk=running.pk).status == (JobStatus.RUNNING if confirmed else JobStatus.DISPATCHED)
    unconfirmed.refresh_from_db()
    assert (unconfirmed.status, unconfirmed.reason) == (JobStatus.DISPATCHED, None)
