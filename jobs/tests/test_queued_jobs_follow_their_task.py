"""Queued jobs follow their task (issue 26, jobs/rebinding.py): an edit that moves a task to
another robot, app or pool takes its waiting jobs along, so none starts the old app, on the old
robot, or waits for a pool the task has left. Jobs already sent stay as they are; a `scope: all`
job keeps its robot. On SQLite and, with DATABASE_URL, on PostgreSQL; the race with a claim on
PostgreSQL only."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from jobs import dispatcher, queue, services
from jobs.models import Job, JobSource, JobStatus
from pools.models import Pool
from rpa_workbench.models import StoredEvent
from tasks import editing

pytestmark = pytest.mark.django_db


def busy(make_task, make_job, robot) -> None:
    """The robot runs another task's job: what is queued for it waits."""
    make_job(make_task(robot), JobStatus.RUNNING)


def queued(task) -> Job:
    return services.start_job(task=task, source=JobSource.API, inline=False).job


def after(newest):
    return StoredEvent.objects.filter(pk__gt=newest, type="job_updated").order_by("pk")


def pool_of(*robots, name="Finance") -> Pool:
    pool = Pool.objects.create(name=name)
    pool.accounts.set(robots)
    return pool


def test_a_task_moved_to_another_robot_starts_its_queued_job_there(
    operator_client, make_account, make_task, make_job, fake_relay
):
    old, new = make_account(host_ip="10.0.0.1"), make_account(host_ip="10.0.0.2")
    busy(make_task, make_job, old)
    task = make_task(old, app_name="export_orders")
    job = queued(task)

    answer = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"account_id": str(new.pk)}, format="json")
    assert answer.status_code == 200, answer.json()

    job.refresh_from_db()
    assert (job.account_id, job.shadow_bot_account, job.host_ip) == (new.pk, new.shadow_bot_account, "10.0.0.2")
    dispatcher.run_once(sweep=False)
    job.refresh_from_db()
    assert job.status == JobStatus.DISPATCHED and job.account_id == new.pk
    assert [(q["backend_ip"], q["target"]) for q in fake_relay.queries] == [("10.0.0.2", "START")]


def test_a_renamed_app_is_what_the_queued_job_starts(operator_client, make_account, make_task, make_job, fake_relay):
    robot = make_account()
    busy(make_task, make_job, robot)
    task = make_task(robot, app_name="export_orders_v1")
    job = queued(task)

    operator_client.patch(f"/api/v1/tasks/{task.pk}", {"app_name": "export_orders_v2"}, format="json")
    Job.objects.filter(status=JobStatus.RUNNING).update(status=JobStatus.COMPLETED, finished_at=timezone.now())
    dispatcher.run_once(sweep=False)

    job.refresh_from_db()
    assert (job.status, job.app_name) == (JobStatus.DISPATCHED, "export_orders_v2")
    assert [q["tak"] for q in fake_relay.queries] == ["export_orders_v2"]


def test_a_task_that_leaves_its_pool_takes_its_waiting_jobs_to_its_own_robot(
    operator_client, make_account, make_task, make_job, fake_relay
):
    own, other = make_account(), make_account()
    pool = pool_of(own, other)
    busy(make_task, make_job, own)
    busy(make_task, make_job, other)
    task = make_task(own, pool=pool)
    job = queued(task)
    assert (job.pool_id, job.any_robot) == (pool.pk, True)

    operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": None}, format="json")

    job.refresh_from_db()
    assert (job.status, job.pool_id, job.any_robot, job.account_id) == (JobStatus.QUEUED, None, False, own.pk)
    # the pool has nothing waiting for it any more: it can go
    assert operator_client.delete(f"/api/v1/pools/{pool.pk}").status_code == 200
    # a free member of the old pool does not take it; its own robot does, once free
    Job.objects.filter(status=JobStatus.RUNNING, account=other).update(status=JobStatus.COMPLETED, finished_at=timezone.now())
    assert queue.claim_many([other.pk], now=timezone.now()) == []
    Job.objects.filter(status=JobStatus.RUNNING, account=own).update(status=JobStatus.COMPLETED, finished_at=timezone.now())
    assert [claimed.pk for claimed in queue.claim_many([own.pk], now=timezone.now())] == [job.pk]


def test_a_task_that_joins_a_pool_lets_any_free_member_take_its_waiting_job(make_account, make_task, make_job, fake_relay):
    own, free = make_account(), make_account()
    busy(make_task, make_job, own)
    task = make_task(own)
    job = queued(task)
    pool = pool_of(own, free)

    editing.update_task(task=task, changes={"pool": pool})

    job.refresh_from_db()
    assert (job.pool_id, job.any_robot) == (pool.pk, True)
    assert [claimed.pk for claimed in queue.claim_many([free.pk], now=timezone.now())] == [job.pk]
    job.refresh_from_db()
    assert job.account_id == free.pk


def test_a_task_moved_to_another_pool_waits_for_that_pools_robots(make_account, make_task, make_job, fake_relay):
    own, first_member, second_member = make_account(), make_account(), make_account()
    first, second = pool_of(own, first_member, name="First"), pool_of(second_member, name="Second")
    busy(make_task, make_job, own)
    task = make_task(own, pool=first)
    job = queued(task)

    editing.update_task(task=task, changes={"pool": second})

    job.refresh_from_db()
    assert (job.pool_id, job.any_robot) == (second.pk, True)
    assert queue.claim_many([first_member.pk], now=timezone.now()) == []
    assert [claimed.pk for claimed in queue.claim_many([second_member.pk], now=timezone.now())] == [job.pk]


def test_a_job_started_on_every_robot_keeps_its_robot_and_follows_the_app(make_account, make_task, make_job, fake_relay):
    own, member = make_account(), make_account()
    pool = pool_of(own, member)
    busy(make_task, make_job, own)
    busy(make_task, make_job, member)
    task = make_task(own, pool=pool, max_parallel_jobs=2)
    jobs = services.start_on_every_robot(task=task, source=JobSource.API)
    pinned = next(job for job in jobs if job.account_id == member.pk)

    editing.update_task(task=task, changes={"app_name": "renamed"})

    pinned.refresh_from_db()
    assert (pinned.status, pinned.account_id, pinned.any_robot, pinned.app_name) == (
        JobStatus.QUEUED, member.pk, False, "renamed"
    )


def test_a_task_with_several_jobs_in_its_pool_does_not_leave_it(
    operator_client, make_account, make_task, make_job, fake_relay
):
    """Without a pool a task runs one job at a time on its own robot: two waiting jobs, or one
    running on another robot, would break that. The edit is refused and nothing changes."""
    own, member = make_account(), make_account()
    pool = pool_of(own, member)
    busy(make_task, make_job, own)
    busy(make_task, make_job, member)
    task = make_task(own, pool=pool, max_parallel_jobs=2)
    jobs = [queued(task), queued(task)]

    answer = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": None, "remark": "solo"}, format="json")

    assert answer.status_code == 409 and answer.json()["code"] == "CONFLICT"
    assert "2 jobs queued or running on its pool's robots" in answer.json()["message"]
    task.refresh_from_db()
    assert (task.pool_id, task.remark) == (pool.pk, None)  # the whole edit rolled back
    assert {(job.pool_id, job.any_robot) for job in Job.objects.filter(pk__in=[job.pk for job in jobs])} == {(pool.pk, True)}

    # one of them running on the other robot: still refused
    Job.objects.filter(pk=jobs[0].pk).update(status=JobStatus.CANCELLED)
    Job.objects.filter(status=JobStatus.RUNNING, account=member).update(status=JobStatus.COMPLETED)
    Job.objects.filter(pk=jobs[1].pk).update(status=JobStatus.RUNNING, account=member)
    answer = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": None}, format="json")
    assert answer.status_code == 409
    # once it ended, the task leaves
    Job.objects.filter(pk=jobs[1].pk).update(status=JobStatus.COMPLETED)
    assert operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": None}, format="json").status_code == 200


def test_a_job_already_sent_is_left_where_it_was_sent(make_account, make_task, fake_relay):
    old, new = make_account(), make_account()
    task = make_task(old, app_name="old_app")
    sent = services.start_job(task=task, source=JobSource.API).job
    assert sent.status == JobStatus.DISPATCHED
    Job.objects.filter(pk=sent.pk).update(status=JobStatus.FAILED)  # the task is not running: it may move

    editing.update_task(task=task, changes={"account": new, "app_name": "new_app"})

    sent.refresh_from_db()
    assert (sent.account_id, sent.app_name) == (old.pk, "old_app")


def test_each_moved_job_publishes_its_change(make_account, make_task, make_job, fake_relay):
    """Streams and the cached Jobs list learn of the move (a job_updated event per job)."""
    old, new = make_account(), make_account()
    busy(make_task, make_job, old)
    task = make_task(old)
    job = queued(task)
    newest = StoredEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    editing.update_task(task=task, changes={"account": new})

    published = [json.loads(data)["data"] for data in after(newest).values_list("data", flat=True)]
    assert [(data["job_id"], data["changes"]["account_id"]) for data in published] == [
        (str(job.pk), str(new.pk))
    ]


def test_an_edit_that_changes_no_binding_moves_nothing(make_account, make_task, make_job, fake_relay):
    robot = make_account()
    busy(make_task, make_job, robot)
    task = make_task(robot)
    job = queued(task)
    newest = StoredEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    editing.update_task(task=task, changes={"remark": "nightly"})

    assert not after(newest).exists()
    assert Job.objects.get(pk=job.pk).updated_at == job.updated_at


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: SQLite serialises writers")
def test_a_claim_that_read_the_job_before_an_edit_committed_leaves_it_for_the_next_pass(
    make_account, make_task, make_job, fake_relay, monkeypatch
):
    """The claim reads a robot's queue, then locks the tasks. An edit committing in between (in
    another connection) moved the job to another robot: the claim must not send it to the old one."""
    old, new = make_account(), make_account()
    task = make_task(old)
    job = make_job(task)
    lock_tasks = queue._lock_tasks

    def edit_first(*args, **kwargs):
        edit = threading.Thread(target=_edit_in_its_own_connection, args=(task.pk, new.pk))
        edit.start()
        edit.join(timeout=30)
        return lock_tasks(*args, **kwargs)

    monkeypatch.setattr(queue, "_lock_tasks", edit_first)
    assert queue.claim_many([old.pk], now=timezone.now()) == []
    monkeypatch.setattr(queue, "_lock_tasks", lock_tasks)

    job.refresh_from_db()
    assert (job.status, job.account_id) == (JobStatus.QUEUED, new.pk)
    assert [claimed.pk for claimed in queue.claim_many([new.pk], now=timezone.now())] == [job.pk]


def _edit_in_its_own_connection(task_pk, account_pk) -> None:
    from accounts.models import Account
    from tasks.models import Task

    try:
        editing.update_task(task=Task.objects.get(pk=task_pk), changes={"account": Account.objects.get(pk=account_pk)})
    finally:
        connection.close()
