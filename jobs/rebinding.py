"""Queued jobs follow their task: when an edit moves a task to another robot, app or pool, the
jobs still waiting for it wait where the task now runs (issue 26).

A queued job copies its task's robot, app and pool when it is created (jobs.models.snapshot_of),
and the dispatcher starts what the job says. Without this, a job queued before the edit would
start the old app, on the old robot, or wait for a pool the task has left (and keep that pool
from being deleted).

Which queued jobs follow: those waiting for the task itself, i.e. its own robot's queue or any
robot of its pool. A job bound to one member by a `scope: all` start (a pool job not `any_robot`)
keeps its robot, as asked, and follows only the app. Dispatched and running jobs are never
touched: the robot has been told what to run.

A task without a pool runs one job at a time, on its own robot (the claim and the reports rely
on it). So a task leaves its pool only while at most one of its pool jobs is active, and that
one is queued or on the task's own robot: otherwise the edit is refused (409 CONFLICT),
saying what to wait for.

Runs inside the edit's transaction (tasks.editing.BINDING_HOOKS), which holds the task's row:
the task before its jobs, the one lock order. The claim re-reads the bindings of the jobs it
picked after taking the tasks' locks (`changed_since_read`), so a job read before an edit
committed is left for the next pass, never sent where the task no longer runs.
"""

from __future__ import annotations

from jobs.models import ACTIVE, BUSY, Job, JobStatus, robot_columns
from jobs.transitions import JOB_TRACKED_FIELDS, after_commit_wake_dispatcher
from rpa_workbench import events
from rpa_workbench.errors import Conflict
from tasks.models import Task

# The columns that say where and what a queued job runs; compared by the claim's re-read.
BINDING = ("account_id", "app_name", "pool_id", "any_robot")


def follow_task(task: Task) -> list[Job]:
    """Re-bind the task's queued jobs to its robot, app and pool as saved; returns the jobs
    changed (each with a `job_updated` event, so cached lists and streams see the move)."""
    if task.pool_id is None:
        _refuse_leaving_a_pool_with_several_jobs(task)
    moved = []
    for job in Job.objects.filter(task_id=task.pk, status=JobStatus.QUEUED).order_by("created_at"):
        values = {"app_name": task.app_name}
        if job.pool_id is None or job.any_robot:  # waiting for the task, not for one member
            values.update(robot_columns(task.account), pool_id=task.pool_id, any_robot=task.pool_id is not None)
        values = {name: value for name, value in values.items() if getattr(job, name) != value}
        if not values:
            continue
        # A compare-and-set on `queued`: a job dispatched since it was read stays as it was sent.
        if not Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(**values):
            continue
        before = events.snapshot(job, tuple(dict.fromkeys((*JOB_TRACKED_FIELDS, *BINDING))))
        for name, value in values.items():
            setattr(job, name, value)
        events.publish_job_updated(job, events.changed(before, job))
        moved.append(job)
    if moved:
        after_commit_wake_dispatcher()  # the new robot (or pool) may be free now
    return moved


def _refuse_leaving_a_pool_with_several_jobs(task: Task) -> None:
    pool_jobs = list(
        Job.objects.filter(task_id=task.pk, status__in=ACTIVE, pool_id__isnull=False).values_list("status", "account_id")
    )
    elsewhere = any(status in BUSY and robot != task.account_id for status, robot in pool_jobs)
    if len(pool_jobs) > 1 or elsewhere:
        raise Conflict(
            "CONFLICT",
            f"task {task.task_name} has {len(pool_jobs)} jobs queued or running on its pool's robots; a task without "
            "a pool runs one job at a time on its own robot: let them finish, or stop them, before taking it out of the pool",
        )


def changed_since_read(jobs: list[Job]) -> set:
    """The pks of `jobs` whose binding differs now from the copy read (one query): an edit
    committed between the claim's read and its lock of the task moved them."""
    if not jobs:
        return set()
    read = {job.pk: tuple(getattr(job, name) for name in BINDING) for job in jobs}
    now = Job.objects.filter(pk__in=list(read)).values_list("pk", *BINDING)
    return {pk for pk, *binding in now if tuple(binding) != read[pk]}
