"""Which task and job a robot's word is about when pools are involved (API.md §12).

A robot names its run by (account name, app name[, host IP]). Without pools that is one task,
`Task.objects.match_robot`. A pool task's app may run on several robots at once, and on robots
the task is not bound to, so the robot's own active job for that app (else its latest one) says
which pool task it is: `match_reporter`. Reports, confirms and heartbeats then act on that robot's
job of the task only (`robot_scope`), never on the same app's job on another robot.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Case, IntegerField, Value, When

from accounts.models import Account
from jobs import locks, pooling
from jobs.models import ACTIVE, BUSY, Job, JobStatus
from rpa_workbench import events
from tasks.models import Task


def match_reporter(shadow_bot_account: str, app_name: str, host_ip: str | None) -> tuple[Task | None, Account | None]:
    """(task, robot) a robot's message is about. The robot's own task for the app, unless the
    robot is a pool member running (or last ran) that app for a pool task: then that task. A
    robot with an own task that is not a pool task is matched as before pools (one query)."""
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None)
    robot = task.account if task is not None else Account.objects.match_robot(shadow_bot_account, host_ip or None)
    if robot is None or (task is not None and task.pool_id is None):
        return task, robot
    job = (
        Job.objects.filter(account_id=robot.pk, app_name__iexact=app_name, pool_id__isnull=False, task__isnull=False)
        .annotate(rank=Case(When(status__in=ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .select_related("task__account")
        .order_by("rank", "-created_at")
        .first()
    )
    return (job.task if job is not None else task), robot


def robot_scope(task: Task, robot_id) -> object | None:
    """The robot whose jobs of `task` a message may touch: the reporting robot for a pool task,
    None (every job of the task: there is one active) otherwise."""
    return robot_id if task.pool_id is not None and robot_id is not None else None


def robot_for_pool_job(task: Task, robot: Account | None) -> Account | None:
    """The robot a new job of the robot's own run goes on: the reporting member of a pool task's
    pool (not the task's own robot); None for the task's own robot."""
    if task.pool_id is None or robot is None or robot.pk == task.account_id:
        return None
    return robot


def active_job_on(task: Task, robot_id) -> Job | None:
    """The robot's active job of a pool task (the oldest, should a robot hold two)."""
    jobs = Job.objects.filter(task_id=task.pk, account_id=robot_id, status__in=ACTIVE)
    # a queued job waiting for any robot is only provisionally on the task's own robot
    job = jobs.exclude(status=JobStatus.QUEUED, any_robot=True).order_by("created_at").first()
    if job is not None:
        job.task = task
    return job


def record_robot_by_yingdao_name(job: Job, robot_client_name: str, *, now: datetime) -> bool:
    """A Yingdao group start ran `job` on the member whose `yingdao_account_name` is
    `robot_client_name`: the job records that robot (account, name, host), so its slot, its
    reports and the Jobs list say where it ran. A compare-and-set while the job is busy on the
    robot we had picked; both robots locked (in key order) before the task. False when the name
    is no member of the job's pool, or nothing changed."""
    robot = (
        Account.objects.filter(pk__in=pooling.member_ids(job.pool_id), yingdao_account_name__iexact=robot_client_name.strip()).order_by("pk").first()
    )
    if robot is None or robot.pk == job.account_id:
        return False
    owner = Task.objects.filter(pk=job.task_id).values_list("account_id", flat=True).first() if job.task_id else None
    with transaction.atomic():
        locks.lock_robots([job.account_id, robot.pk, owner])  # every robot first, in key order
        if owner is not None:
            locks.lock_task(job.task_id, account_id=owner)
        moved = Job.objects.filter(pk=job.pk, account_id=job.account_id, status__in=BUSY).update(
            account_id=robot.pk, shadow_bot_account=robot.shadow_bot_account, host_ip=robot.host_ip, updated_at=now,
        )
        if moved:
            job.account, job.shadow_bot_account, job.host_ip = robot, robot.shadow_bot_account, robot.host_ip
            events.publish_job_updated(job, {"account_id": str(robot.pk), "shadow_bot_account": robot.shadow_bot_account,
                                             "host_ip": robot.host_ip})
    return bool(moved)
